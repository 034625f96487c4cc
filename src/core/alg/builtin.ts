/**
 * The ALGs this package ships. The only file that lists them: a new ALG is a folder beside
 * `ftp/` plus one line here.
 */

import { ftpAlg } from '../ftp/module.js';
import { ircAlg } from '../irc/module.js';
import { AlgRegistry } from './registry.js';

export const builtinAlgs = new AlgRegistry([ftpAlg, ircAlg]);
