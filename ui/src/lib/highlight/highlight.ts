// Syntax highlighting for the governance editor with shiki (fine-grained core, the JavaScript
// regex engine: no WebAssembly, nothing fetched). Tokens, not HTML: the caller paints them
// through the DOM (`paint`), because the app's CSP forbids inline style attributes.
import { createHighlighterCore, type HighlighterCore, type ThemedToken } from 'shiki/core';
import { createJavaScriptRegexEngine } from 'shiki/engine/javascript';
import toml from 'shiki/langs/toml.mjs';
import githubLight from 'shiki/themes/github-light.mjs';
import githubDark from 'shiki/themes/github-dark.mjs';
import { rego } from './rego.grammar';
import type { CodeLang } from './lang';

export { langOf, type CodeLang } from './lang';

let highlighter: Promise<HighlighterCore> | null = null;

function get(): Promise<HighlighterCore> {
  highlighter ??= createHighlighterCore({
    themes: [githubLight, githubDark],
    langs: [toml, rego],
    engine: createJavaScriptRegexEngine(),
  });
  return highlighter;
}

/** `code` as lines of coloured tokens. */
export async function tokenize(code: string, lang: CodeLang, dark: boolean): Promise<ThemedToken[][]> {
  const h = await get();
  return h.codeToTokens(code, { lang, theme: dark ? 'github-dark' : 'github-light' }).tokens;
}

/** Replaces `el`'s children with the tokens as spans (colours set through the CSSOM). */
export function paint(el: HTMLElement, lines: ThemedToken[][]): void {
  const frag = document.createDocumentFragment();
  lines.forEach((line, i) => {
    for (const t of line) {
      const span = document.createElement('span');
      span.textContent = t.content;
      if (t.color) span.style.color = t.color;
      if (t.fontStyle && t.fontStyle & 1) span.style.fontStyle = 'italic';
      if (t.fontStyle && t.fontStyle & 2) span.style.fontWeight = 'bold';
      frag.appendChild(span);
    }
    if (i < lines.length - 1) frag.appendChild(document.createTextNode('\n'));
  });
  el.replaceChildren(frag);
}
