// The public API is what the entry points export at run time. These lists are the expected
// names, so an export added or removed by accident (an `export *` that picks up a helper, a
// deleted re-export) is a visible diff here, and adding one is a decision made in review.
// Types are not listed: they leave no trace at run time (the package test type-checks a consumer).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as core from '../../src/core/index.js';
import * as node from '../../src/node/index.js';
import * as testing from '../../src/testing/index.js';

const root = join(import.meta.dirname, '..', '..');

const EXPECTED: Record<'nat-alg' | 'nat-alg/node' | 'nat-alg/testing', readonly string[]> = {
  'nat-alg': [
    // errors
    'NatAlgError',
    'AddressError',
    'NAT_ALG_ERROR_CODES',
    // addresses and endpoints
    'addressFamily',
    'canonicalAddress',
    'endpoint',
    'formatAddress',
    'formatEndpoint',
    'formatIPv4',
    'formatIPv6',
    'ipv4ToNumber',
    'numberToIPv4',
    'parseAddress',
    'parseEndpoint',
    'parseIPv4',
    'parseIPv6',
    'sameAddress',
    // deprecated no-op, kept until 0.3 (docs/ftp-translator.md, "Speed")
    'setLineScanBackend',
    // the ALG contract's registry (the IRC module adds its own names beside FTP's)
    'AlgRegistry',
    'builtinAlgs',
    // FTP: translator, module, policy, documented parsers and formatters
    'FtpTranslator',
    'ftpAlg',
    'DEFAULT_FTP_POLICY',
    'namesNoRemoteHost',
    'parsePort',
    'parseEprt',
    'parseLprt',
    'formatPort',
    'formatEprt',
    'formatLprt',
    'parse227',
    'parse228',
    'parse229',
    'format227',
    'format228',
    'format229',
    'find227',
    'find228',
    'find229',
    // IRC DCC: translator, module, policy, offer parser and formatters
    'IrcTranslator',
    'ircAlg',
    'DEFAULT_IRC_POLICY',
    'DEFAULT_IRC_MAX_LINE_LENGTH',
    'parseDcc',
    'formatDcc',
    'rewriteDccOffer',
    'ipv4ToDccInteger',
    'ipv4FromDccInteger',
    // the relay session for embedders with their own transport
    'RelaySession',
    'FtpRelaySession',
    'DEFAULT_RELAY_TIMEOUTS',
    'PortRangeSource',
    'MappedPortSource',
    'ClientWaitingBudgets',
    // port-mapping table
    'PortTable',
    'PortAllocator',
    'ALLOCATE_FAILURES',
    'DEFAULT_PROTOCOL_POLICIES',
    'PROTOCOLS',
    'protocolIndex',
    'snapshotPortTable',
    'restorePortTable',
    'SNAPSHOT_VERSION',
    // address translation, RFC 6052, FTP in a pure NAT
    'AddressTranslator',
    'WELL_KNOWN_PREFIX',
    'parseNat64Prefix',
    'embedIPv4',
    'extractIPv4',
    'extractIPv4Text',
    'isGlobalIPv4',
    'synthesizeIPv6',
    'planFtpDataChannel',
  ],
  'nat-alg/node': [
    'NatAlgError', 'createAlgProxy', 'createFtpProxy', 'createFtpTranslatorStreams', 'createIrcProxy', 'defaultMaxPendingDataChannelsPerClient',
    // createFtpTranslatorStreams: the error both streams fail with when the translator gives up
    'TranslatorClosedError',
    // one data channel with the relay's sockets, for users of the translator on its own (docs/relay.md)
    'openDataChannel',
    // data planes (docs/relay.md, "Data planes")
    'createRelayDataPlane', 'createNftablesDataPlane', 'NftablesDataPlane', 'DataPlaneUnavailableError', 'PlaneFault',
  ],
  'nat-alg/testing': [
    'NatAlgError',
    // the sans-I/O harness
    'runSession',
    'fromClient',
    'fromServer',
    'bytesOf',
    'textOf',
    'concatBytes',
    'chunkings',
    'gatewayEndpoints',
    'refuseAll',
    'editsOf',
    'applyEdits',
    // scriptable peers over node:net
    'FtpTestServer',
    'FtpServerSession',
    'FtpTestClient',
    'FtpTestError',
    'MAX_COMMAND_LINE',
    'MAX_TRANSFER_BYTES',
    'ReplyReader',
    'MAX_REPLY_LENGTH',
    'formatReply',
    'formatPasvReply',
    'formatEpsvReply',
    'parsePasvReply',
    'parseEpsvReply',
    'LineRecorder',
    'MAX_RECORDED_LINE',
    'formatTranscript',
    'visible',
  ],
};

const MODULES = { 'nat-alg': core, 'nat-alg/node': node, 'nat-alg/testing': testing } as const;

describe('public API: runtime exports per entry point', () => {
  for (const [entry, names] of Object.entries(EXPECTED) as [keyof typeof EXPECTED, readonly string[]][]) {
    it(`${entry} exports exactly the expected names`, () => {
      expect(Object.keys(MODULES[entry]).sort()).toEqual([...names].sort());
    });
  }

  it('NatAlgError is the same class in every entry point', () => {
    expect(node.NatAlgError).toBe(core.NatAlgError);
    expect(testing.NatAlgError).toBe(core.NatAlgError);
  });

  it('every name that README.md and docs/ import from the package is exported there', () => {
    const files = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const missing: string[] = [];
    let imports = 0;
    for (const f of files) {
      const text = readFileSync(join(root, f), 'utf8');
      for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'(nat-alg(?:\/node|\/testing)?)'/g)) {
        const entry = m[2] as keyof typeof EXPECTED;
        for (const spec of m[1]!.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
          if (spec.startsWith('type ')) continue; // types are checked by the package test's consumer
          const name = spec.split(/\s+as\s+/)[0]!;
          imports++;
          if (!(name in MODULES[entry])) missing.push(`${f}: ${name} from ${entry}`);
        }
      }
    }
    expect(imports).toBeGreaterThan(5);
    expect(missing).toEqual([]);
  });

  it('examples/ use the public API only: they import the entry points, never a file inside them', () => {
    // `npm run typecheck` type-checks examples/ (tsconfig.json includes it), so together with
    // this they prove that the examples compile against what users can import.
    const entryFiles = new Set(['../src/core/index.js', '../src/node/index.js', '../src/testing/index.js']);
    const inside: string[] = [];
    for (const f of readdirSync(join(root, 'examples')).filter((n) => n.endsWith('.ts'))) {
      const text = readFileSync(join(root, 'examples', f), 'utf8');
      for (const m of text.matchAll(/from\s*'([^']+)'/g)) {
        const spec = m[1]!;
        if (spec.startsWith('.') && !entryFiles.has(spec)) inside.push(`${f}: ${spec}`);
      }
    }
    expect(inside).toEqual([]);
  });
});
