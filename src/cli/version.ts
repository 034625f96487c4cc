/** The package version, bundled into the CLI at build time from package.json. */
import pkg from '../../package.json';

export const VERSION: string = pkg.version;
