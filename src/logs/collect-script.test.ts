/** The collect script's names and notes, and the script itself through shellcheck and bash. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectScript, gateName, parseNotes, PROJECT_CONF_DIRS, screenName } from './collect-script.js';

describe('gate names', () => {
  it('renames devstack extensions_to_txt as zuul-jobs stage-output does, and nothing else', () => {
    expect(gateName('local.conf')).toBe('local_conf.txt');
    expect(gateName('nova.conf')).toBe('nova_conf.txt');
    expect(gateName('.localrc.auto')).toBe('.localrc_auto.txt');
    expect(gateName('.stackenv')).toBe('_stackenv.txt');
    expect(gateName('stack.log')).toBe('stack_log.txt');
    expect(gateName('api-paste.ini')).toBe('api-paste.ini');
    expect(gateName('clouds.yaml')).toBe('clouds.yaml');
    expect(gateName('devstacklog.txt.summary')).toBe('devstacklog.txt.summary');
  });

  it('names screen files after the unit, as export-devstack-journal does', () => {
    expect(screenName('devstack@n-api.service')).toBe('screen-n-api.txt');
    expect(screenName('devstack@placement-api.service')).toBe('screen-placement-api.txt');
  });
});

describe('notes', () => {
  it('reads units and missing things, ignoring blank lines', () => {
    expect(parseNotes('unit\tdevstack@n-api.service\nmissing\t/opt/stack/devstack/local.conf\tno such file\n\nunit\tdevstack@key.service\n')).toEqual({
      units: ['devstack@n-api.service', 'devstack@key.service'],
      missing: [{ what: '/opt/stack/devstack/local.conf', why: 'no such file' }],
    });
  });
});

describe('the script', () => {
  const script = collectScript({
    sides: [
      { prefix: 'old', devstackDir: "/opt/stack/old/dev stack'x", logFile: '/opt/stack/old/logs/stack.sh.log' },
      { prefix: 'new', devstackDir: '/opt/stack/new/devstack', logFile: '/opt/stack/new/logs/stack.sh.log' },
    ],
    etcDirs: [...PROJECT_CONF_DIRS],
  });

  it('is clean for shellcheck and quotes every path it is given', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dc-collect-script-'));
    try {
      writeFileSync(join(dir, 'collect.sh'), script);
      execFileSync('shellcheck', ['-s', 'bash', join(dir, 'collect.sh')], { stdio: 'pipe' });
      expect(readFileSync(join(dir, 'collect.sh'), 'utf8')).toContain(`collect_side old '/opt/stack/old/dev stack'\\''x' /opt/stack/old/logs/stack.sh.log`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes the stack.sh log from a plain LOGFILE line of .localrc.auto, else the default (bash runs that part)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dc-collect-logfile-'));
    try {
      const fn = /collect_side\(\) \{[\s\S]*?\n\}\n/.exec(script)?.[0] ?? '';
      expect(fn).not.toBe('');
      const ds = join(dir, 'devstack');
      execFileSync('mkdir', ['-p', ds, join(dir, 'logs'), join(dir, 'mine')]);
      writeFileSync(join(ds, 'local.conf'), 'x\n');
      writeFileSync(join(dir, 'logs', 'stack.sh.log'), 'default log\n');
      writeFileSync(join(dir, 'mine', 'my.log'), 'my log\n');
      const harness = (auto: string) => {
        writeFileSync(join(ds, '.localrc.auto'), auto);
        const out = join(dir, `out-${Math.random().toString(36).slice(2)}`);
        execFileSync('mkdir', [out]);
        const text = `set -u\nL=${out}\nERR=${out}/.err\nNOTES=${out}/notes\nmissing() { echo "$1 $2" >>"$NOTES"; }\nwhy() { echo x; }\ncopy() { cp -pL "$1" "$2" || missing "$1" no; }\ncopy_if() { [ -e "$1" ] || return 0; cp -pRL "$1" "$2"; }\n${fn}\ncollect_side '' "$1" "$2"\n`;
        execFileSync('bash', ['-c', text, 'x', ds, join(dir, 'logs', 'stack.sh.log')]);
        return readFileSync(join(out, 'devstacklog.txt'), 'utf8');
      };
      expect(harness('HOST_IP=1\n')).toBe('default log\n');
      expect(harness(`LOGFILE=${join(dir, 'mine', 'my.log')}\n`)).toBe('my log\n');
      // A value with variables is not a path the script can know: the default stays.
      expect(harness('LOGFILE=$DEST/logs/x.log\n')).toBe('default log\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
