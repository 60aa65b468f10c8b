/**
 * openstack/devstack for tests that run its real code: the DevStack case of upstream-repo.ts
 * ($DEVCLUSTER_DEVSTACK_REPO, else the shared bundle, else opendev; a clear failure, never a skip).
 */
import { cloneUpstream, sharedBundle, upstreamCandidates, upstreamUrl } from './upstream-repo.js';

export const DEVSTACK_URL = upstreamUrl('devstack');
export const SHARED_BUNDLE = sharedBundle('devstack');

export const devstackRepoCandidates = (env: NodeJS.ProcessEnv = process.env, bundle = SHARED_BUNDLE): string[] => upstreamCandidates('devstack', env, bundle);

export const cloneDevstack = (branch: string, dest: string, options: { env?: NodeJS.ProcessEnv; bundle?: string; signal?: AbortSignal } = {}) =>
  cloneUpstream('devstack', branch, dest, options);
