// The page's Content-Security-Policy (index.html) has no 'unsafe-eval': code that builds functions from
// strings would work in Node and in tests, then fail in the browser with an EvalError. This keeps such
// code out of src/ and keeps the policy itself strict.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const src = join(root, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|tsx|js|mjs)$/.test(name) && !/\.test\.ts$/.test(name) ? [path] : [];
  });
}

/** Ways to run a string as code. `.eval(` (a method such as model.eval()) is not one of them. */
const STRING_TO_CODE: [string, RegExp][] = [
  ['eval(', /(?<![.\w$])eval\s*\(/],
  ['new Function', /\bnew\s+Function\b/],
  ['Function("…")', /(?<![.\w$])Function\s*\(\s*['"`]/],
  ['setTimeout/setInterval with a string', /\bset(?:Timeout|Interval)\s*\(\s*['"`]/],
];

describe('no code from strings', () => {
  it('src/ (tests excluded) neither evals nor builds functions from strings', () => {
    const files = sourceFiles(src);
    expect(files.length).toBeGreaterThan(20);
    const found: string[] = [];
    for (const file of files) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          for (const [what, pattern] of STRING_TO_CODE) if (pattern.test(line)) found.push(`${relative(root, file)}:${i + 1}: ${what}`);
        });
    }
    expect(found).toEqual([]);
  });

  it("index.html's policy allows only the site's own scripts and no eval", () => {
    const html = readFileSync(join(root, 'index.html'), 'utf8');
    const policy = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1];
    expect(policy).toBeDefined();
    const directives = new Map(policy!.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values] as const));
    expect(directives.get('default-src')).toEqual(["'self'"]);
    expect(directives.get('script-src')).toEqual(["'self'"]);
    expect(directives.get('worker-src')).toEqual(["'self'"]);
    expect(directives.get('connect-src')).toEqual(["'self'"]);
    expect(policy).not.toContain('unsafe-eval');
  });

  it('catches each way of running a string as code (the patterns work)', () => {
    const caught = (line: string) => STRING_TO_CODE.some(([, p]) => p.test(line));
    for (const bad of ['eval(code)', 'x = eval (s)', 'new Function("a", "return a")', "Function('return this')()", "setTimeout('tick()', 10)"]) expect(caught(bad), bad).toBe(true);
    for (const ok of ['model.eval()', 'evaluate(x)', 'retrieval(y)', 'setTimeout(() => tick(), 10)', 'typeof f === "function"']) expect(caught(ok), ok).toBe(false);
  });
});
