// Writes package.json's `contributes.configuration.properties` from the server's settings
// table (`chatls settings-schema --vscode`) plus the extension's own keys
// (vscode-settings.json: serverPath, trace.server). The server is the one source: no
// setting is copied here by hand. `--check` changes nothing and fails when package.json
// differs from what the server prints.
//
//   node scripts/sync-settings.mjs path/to/chatls [--check]
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = join(dirname(fileURLToPath(import.meta.url)), '..');
const [server, flag] = process.argv.slice(2);
if (server === undefined) {
  console.error('usage: node scripts/sync-settings.mjs CHATLS_BINARY [--check]');
  process.exit(2);
}
const fromServer = JSON.parse(execFileSync(server, ['settings-schema', '--vscode'], { encoding: 'utf8' }));
const own = JSON.parse(readFileSync(join(here, 'vscode-settings.json'), 'utf8'));
const packagePath = join(here, 'package.json');
const text = readFileSync(packagePath, 'utf8');
const manifest = JSON.parse(text);
manifest.contributes.configuration.properties = { ...own, ...fromServer };
const wanted = `${JSON.stringify(manifest, null, 2)}\n`;
if (flag === '--check') {
  if (wanted !== text) {
    console.error('package.json\'s settings differ from `chatls settings-schema --vscode`: run editors/vscode/build.sh');
    process.exit(1);
  }
} else if (wanted !== text) {
  writeFileSync(packagePath, wanted);
  console.log('package.json: settings written from the server\'s table');
}
