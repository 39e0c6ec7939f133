import { describe, expect, it } from 'vitest';
import { langOf, paint, tokenize } from './highlight';

const REGO = `package oxide

# More changed lines than this is a medium-sized change
medium_change_lines := 50

escalations contains e if {
\tcount(paths) > many_files
\te := {"rule": "oxide.many_files", "risk": "medium"}
}
`;

describe('highlighting', () => {
  it('picks the language by file name', () => {
    expect(langOf('.oxide/policy/oxide.rego')).toBe('rego');
    expect(langOf('.oxide/checks.toml')).toBe('toml');
  });

  it('colours Rego: keywords, comments, strings and numbers differ from plain text', async () => {
    const lines = await tokenize(REGO, 'rego', false);
    const color = (text: string) => lines.flat().find((t) => t.content.includes(text))?.color;
    const plain = color('paths');
    expect(color('package')).toBeDefined();
    expect(color('package')).not.toBe(plain);
    expect(color('# More')).not.toBe(plain);
    expect(color('"rule"')).not.toBe(plain);
    expect(color('50')).not.toBe(plain);
    // The text is kept exactly.
    expect(lines.map((l) => l.map((t) => t.content).join('')).join('\n')).toBe(REGO);
  });

  it('colours TOML and paints the tokens as coloured spans (CSSOM, allowed by the CSP)', async () => {
    const lines = await tokenize('[[check]]\nname = "unit"\n', 'toml', true);
    const el = document.createElement('pre');
    paint(el, lines);
    expect(el.textContent).toBe('[[check]]\nname = "unit"\n');
    const spans = [...el.querySelectorAll('span')];
    expect(spans.length).toBeGreaterThan(3);
    expect(new Set(spans.map((s) => s.style.color)).size).toBeGreaterThan(1);
  });
});
