/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { svelteTesting } from '@testing-library/svelte/vite';
import { fileURLToPath } from 'node:url';

// The desktop app embeds ui/dist at compile time (src-tauri/tauri.conf.json: frontendDist).
export default defineConfig({
  plugins: [svelte(), svelteTesting()],
  resolve: {
    alias: { $lib: fileURLToPath(new URL('./src/lib', import.meta.url)) },
  },
  // Relative asset URLs; no inline scripts or styles, so the strict CSP holds.
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'safari16',
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  clearScreen: false,
  server: {
    port: 5173,
    strictPort: true,
    // lib/commands.test.ts reads the Rust command list and signatures it is checked against.
    fs: { allow: ['.', '../src-tauri'] },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
    setupFiles: ['src/test-setup.ts'],
  },
});
