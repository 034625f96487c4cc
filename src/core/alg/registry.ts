/**
 * The ALGs an embedding can choose from, by name or by the well-known port of their control
 * connections. A registry is a plain value: the built-in one (builtin.ts) lists the ALGs of this
 * package, and an application may make its own with more.
 */

import { NatAlgError } from '../errors.js';
import type { AlgModule } from './contract.js';

export class AlgRegistry {
  private readonly byName = new Map<string, AlgModule>();

  constructor(modules: readonly AlgModule[]) {
    for (const m of modules) {
      if (this.byName.has(m.name)) throw new NatAlgError('invalid-argument', `two ALGs named ${m.name}`);
      this.byName.set(m.name, m);
    }
  }

  /** The ALG called `name`, or null. */
  find(name: string): AlgModule | null {
    return this.byName.get(name) ?? null;
  }

  /** The ALG whose control connections use `port` by default, or null. */
  forPort(port: number): AlgModule | null {
    for (const m of this.byName.values()) if (m.defaultPort === port) return m;
    return null;
  }

  get names(): readonly string[] {
    return [...this.byName.keys()];
  }
}
