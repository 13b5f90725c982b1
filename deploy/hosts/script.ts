/**
 * The text sent to a host's `bash -s` (pure): variable assignments saying what to do, then the
 * agent (agent.sh). Everything travels on stdin, never as command-line words, so the same text
 * works through ssh (which re-parses words with the remote shell) and through `ip netns exec`.
 */
import { envFileText, type Component } from './plan.js';

export type AgentAction =
  'probe' | 'install' | 'start' | 'stop' | 'refresh' | 'status' | 'await-workers';

export interface AgentRequest {
  action: AgentAction;
  installDir: string;
  serviceUser: string;
  node: string;
  init: string;
  release: string;
  components: Component[];
  /** Bytes of release tarball that follow the script on stdin (0: none). */
  payloadBytes?: number;
  payloadSha256?: string;
  /** How long start/await-workers wait for health, seconds. */
  waitS?: number;
  /** await-workers: the master's health URL and the worker count to wait for. */
  masterHealthUrl?: string;
  expectWorkers?: number;
}

/** `it's` → `'it'\''s'`: one word for bash, whatever it holds. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function array(name: string, values: readonly string[]): string {
  return `${name}=(${values.map(shellQuote).join(' ')})`;
}

/** The full script for one request; `agent` is the text of agent.sh. */
export function agentScript(r: AgentRequest, agent: string): string {
  const c = r.components;
  const lines = [
    '#!/usr/bin/env bash',
    'set -euo pipefail',
    `FF_ACTION=${shellQuote(r.action)}`,
    `FF_DIR=${shellQuote(r.installDir)}`,
    `FF_USER=${shellQuote(r.serviceUser)}`,
    `FF_NODE=${shellQuote(r.node)}`,
    `FF_INIT=${shellQuote(r.init)}`,
    `FF_RELEASE=${shellQuote(r.release)}`,
    `FF_PAYLOAD_BYTES=${r.payloadBytes ?? 0}`,
    `FF_PAYLOAD_SHA256=${shellQuote(r.payloadSha256 ?? '')}`,
    `FF_WAIT_S=${r.waitS ?? 60}`,
    `FF_MASTER_HEALTH=${shellQuote(r.masterHealthUrl ?? '')}`,
    `FF_EXPECT_WORKERS=${r.expectWorkers ?? 0}`,
    array(
      'FF_KIND',
      c.map((x) => x.kind),
    ),
    array(
      'FF_NAME',
      c.map((x) => x.name),
    ),
    array(
      'FF_UNIT',
      c.map((x) => x.unitName),
    ),
    array(
      'FF_ENVFILE',
      c.map((x) => x.envFile),
    ),
    array('FF_ENV', c.map(envFileText)),
    array(
      'FF_UNITTEXT',
      c.map((x) => x.unit),
    ),
    array(
      'FF_HEALTH',
      c.map((x) => x.healthUrl),
    ),
  ];
  // The agent's last line runs it; a payload, if any, starts right after that line's newline.
  return `${lines.join('\n')}\n${agent.endsWith('\n') ? agent : `${agent}\n`}`;
}

/** The script with the token replaced, for --dry-run output. */
export function redact(script: string, token: string): string {
  return script.split(token).join('<token>');
}
