/**
 * Reading DevStack's own files for the tables devcluster needs: which variables select each git
 * project's source (stackrc's `X_REPO=${X_REPO:-…}` and `GITREPO["name"]=${VAR_REPO:-…}` lines,
 * with their GITBRANCH twins), and which distros stack.sh accepts (`SUPPORTED_DISTROS=…`).
 * Pure: text in, table out. scripts/dev/gen-devstack-tables.mjs writes tables.ts with these; a test
 * checks the committed tables against the real files, so they cannot drift.
 */

/** What DevStack reads for one git project. */
export interface UpstreamProject {
  /** The variable holding the repository URL, e.g. NOVA_REPO, OSLOCFG_REPO. */
  repoVar: string;
  /** The variable holding the branch, tag or ref, e.g. NOVA_BRANCH, OSLOCFG_BRANCH. */
  branchVar: string;
  /** The default repository, `${GIT_BASE}` expanded to stackrc's default https://opendev.org. */
  url: string;
  /**
   * A GITREPO[...] project: installed from git only when named in LIBS_FROM_GIT (lib/libraries
   * `_install_lib_from_source`, the services' `use_library_from_git`, inc/python `use_library_from_git`).
   */
  library: boolean;
  /** 1-based line of the REPO assignment in stackrc. */
  line: number;
}

/** stackrc's default GIT_BASE (`GIT_BASE=${GIT_BASE:-https://opendev.org}`). */
export const DEFAULT_GIT_BASE = 'https://opendev.org';

function expandGitBase(url: string, gitBase: string): string {
  return url.replace(/\$\{GIT_BASE\}|\$GIT_BASE\b/g, gitBase);
}

/** project → variables, in stackrc's order. Throws when a GITREPO line has no GITBRANCH twin. */
export function parseStackrcProjects(stackrc: string): Record<string, UpstreamProject> {
  const lines = stackrc.split('\n');
  const gitBase = /^GIT_BASE=\$\{GIT_BASE:-([^}]+)\}/m.exec(stackrc)?.[1] ?? DEFAULT_GIT_BASE;
  const projects: Record<string, UpstreamProject> = {};
  const libraryBranch = new Map<string, string>();
  const serviceBranch = new Set<string>();
  lines.forEach((text, i) => {
    const lib = /^GITREPO\["([^"]+)"\]=\$\{([A-Z0-9_]+_REPO):-(.*)\}\s*$/.exec(text);
    if (lib) {
      const [, name, repoVar, url] = lib as unknown as [string, string, string, string];
      projects[name] = { repoVar, branchVar: '', url: expandGitBase(url, gitBase), library: true, line: i + 1 };
      return;
    }
    const libBranch = /^GITBRANCH\["([^"]+)"\]=\$\{([A-Z0-9_]+_BRANCH):-/.exec(text);
    if (libBranch) {
      libraryBranch.set(libBranch[1] as string, libBranch[2] as string);
      return;
    }
    const service = /^([A-Z0-9_]+)_REPO=\$\{\1_REPO:-(.*)\}\s*$/.exec(text);
    if (service) {
      const [, prefix, url] = service as unknown as [string, string, string];
      const expanded = expandGitBase(url, gitBase);
      const name = (expanded.split('/').at(-1) as string).replace(/\.git$/, '');
      projects[name] = { repoVar: `${prefix}_REPO`, branchVar: `${prefix}_BRANCH`, url: expanded, library: false, line: i + 1 };
      return;
    }
    const branch = /^([A-Z0-9_]+)_BRANCH=\$\{\1_BRANCH:-/.exec(text);
    if (branch) serviceBranch.add(`${branch[1]}_BRANCH`);
  });
  for (const [name, project] of Object.entries(projects)) {
    if (project.library) {
      const branchVar = libraryBranch.get(name);
      if (branchVar === undefined) throw new Error(`stackrc: GITREPO["${name}"] (line ${project.line}) has no GITBRANCH["${name}"]`);
      project.branchVar = branchVar;
    } else if (!serviceBranch.has(project.branchVar)) {
      throw new Error(`stackrc: ${project.repoVar} (line ${project.line}) has no ${project.branchVar}`);
    }
  }
  return projects;
}

/** stack.sh's SUPPORTED_DISTROS value (a bash regex) and its 1-based line. */
export function parseSupportedDistros(stackSh: string): { pattern: string; line: number } {
  const lines = stackSh.split('\n');
  const i = lines.findIndex((l) => /^SUPPORTED_DISTROS="[^"]*"\s*$/.test(l));
  if (i < 0) throw new Error('stack.sh: no SUPPORTED_DISTROS="…" line');
  return { pattern: /^SUPPORTED_DISTROS="([^"]*)"/.exec(lines[i] as string)?.[1] as string, line: i + 1 };
}

/**
 * Whether stack.sh accepts DISTRO: it tests `[[ ! ${DISTRO} =~ $SUPPORTED_DISTROS ]]`, an unanchored
 * extended regex match (master stack.sh:234).
 */
export function distroSupported(pattern: string, distro: string): boolean {
  return new RegExp(pattern).test(distro);
}

/**
 * Where Gerrit serves changes of a repository hosted on opendev: review.opendev.org/<namespace>/<name>
 * (namespaces differ: openstack/…, x/…, starlingx/…). Undefined for a repository elsewhere.
 */
export function gerritUrl(url: string): string | undefined {
  const m = /^https?:\/\/(?:opendev\.org|review\.opendev\.org)\/([^/]+\/[^/]+?)(?:\.git)?\/?$/.exec(url);
  return m ? `https://review.opendev.org/${m[1] as string}` : undefined;
}
