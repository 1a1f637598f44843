// vitest globalSetup of every project (vitest.config.ts at the root): makes the oracle suites the
// project names exist and match the current oracle scripts before its tests start.
import type { TestProject } from 'vitest/node';
import { ensureFixtures } from './fixtures.js';

declare module 'vitest' {
  export interface ProvidedContext {
    fixtureSuites: string[];
  }
}

export default function setup(project: TestProject): void {
  for (const suite of project.config.provide.fixtureSuites ?? []) ensureFixtures(suite);
}
