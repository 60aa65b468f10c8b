/** Where devcluster keeps its own files on a node: the provision scripts and its working folder. */
import { DEST } from '../local-conf.js';

export const WORK_DIR = `${DEST}/devcluster`;
export const SCRIPTS_DIR = `${WORK_DIR}/provision`;
