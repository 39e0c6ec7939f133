import { flushSync, mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { theme } from '$lib/stores/theme.svelte';
import { markStart } from '$lib/startupTrace';

// Imports run first: this is the moment the bundle was fetched, parsed and evaluated.
markStart('main');
theme.apply();

const app = mount(App, { target: document.getElementById('app')! });
// `mount` leaves effects (onMount: the first IPC calls) for later; in the app that was after
// the first frame, 200-300 ms later (`oxide-bench desktop`). Run them now, so the workspace
// opens while WebKit paints the frame.
flushSync();
markStart('mounted');

export default app;
