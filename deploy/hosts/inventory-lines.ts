/**
 * Line-level parsing of the inventory: `key = value` settings under [cluster], and host lines
 * (`name key=value …`) under [master] and [workers], each field checked for its format.
 */
export interface InventoryProblem {
  line: number;
  message: string;
}

export interface RawSetting {
  key: string;
  value: string;
  line: number;
}

export interface RawHost {
  name: string;
  line: number;
  /** Only fields that passed their check. */
  fields: Map<string, string>;
}

export const CLUSTER_KEYS = [
  'token',
  'token_file',
  'redis_url',
  'sandbox',
  'install_dir',
  'service_user',
  'ssh_command',
  'node',
  'log_level',
  'mode',
  'placement',
  'init',
] as const;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

interface FieldRule {
  check: (v: string) => boolean;
  expected: string;
}

const ADDRESS: FieldRule = {
  check: (v) => v !== '0.0.0.0' && (IPV4.test(v) || (HOSTNAME.test(v) && !/^[\d.]+$/.test(v))),
  expected:
    'an IPv4 address or host name the other components can reach (not 0.0.0.0; use bind=0.0.0.0 to listen everywhere)',
};

const COMMON: Record<string, FieldRule> = {
  address: ADDRESS,
  bind: {
    check: (v) => IPV4.test(v),
    expected: 'an IPv4 address of this host, or 0.0.0.0 for every interface',
  },
  port: {
    check: (v) => /^\d{1,5}$/.test(v) && Number(v) >= 1 && Number(v) <= 65535,
    expected: 'a port from 1 to 65535',
  },
  ssh: {
    check: (v) => /^([A-Za-z0-9._-]+@)?[A-Za-z0-9._:-]+$/.test(v),
    expected: 'an ssh destination such as admin@10.0.0.2 or an alias from ~/.ssh/config',
  },
};

const WORKER: Record<string, FieldRule> = {
  ...COMMON,
  cpu: {
    check: (v) => /^\d+(\.\d+)?$/.test(v) && Number(v) >= 0.1 && Number(v) <= 4096,
    expected: 'the cores this worker offers, at least 0.1, e.g. cpu=8',
  },
  memory_mb: {
    check: (v) => /^\d+$/.test(v) && Number(v) >= 128,
    expected: 'the MB this worker offers, an integer of at least 128, e.g. memory_mb=16384',
  },
  memory_quota_mb: {
    check: (v) => /^\d+$/.test(v) && Number(v) >= 1,
    expected: 'the MB FaaStore may hold in memory, an integer of at least 1',
  },
};

export function parseSettings(
  content: string,
  line: number,
  problems: InventoryProblem[],
): RawSetting[] {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(content);
  if (!m) {
    problems.push({
      line,
      message: `"${content}" is not a setting; write key = value, e.g. redis_url = redis://10.0.0.5:6379`,
    });
    return [];
  }
  const key = m[1]!;
  const value = m[2]!.trim();
  if (!(CLUSTER_KEYS as readonly string[]).includes(key)) {
    problems.push({
      line,
      message: `unknown setting ${key} in [cluster]; valid settings: ${CLUSTER_KEYS.join(', ')}`,
    });
    return [];
  }
  if (value === '') {
    problems.push({ line, message: `${key} has no value` });
    return [];
  }
  return [{ key, value, line }];
}

export function parseHostLine(
  content: string,
  line: number,
  section: 'master' | 'workers',
  problems: InventoryProblem[],
): RawHost | null {
  const [name, ...words] = content.split(/\s+/);
  const where = section === 'master' ? 'master' : 'worker';
  if (!name || name.includes('=')) {
    problems.push({
      line,
      message: `a ${where} line starts with its name, e.g. ${section === 'master' ? 'm1 address=10.0.0.1' : 'w1 address=10.0.0.2 cpu=8'}`,
    });
    return null;
  }
  if (!NAME.test(name)) {
    problems.push({
      line,
      message: `${where} name ${JSON.stringify(name)} must be 1-63 of A-Z a-z 0-9 . _ - starting with a letter or digit`,
    });
    return null;
  }
  const rules = section === 'master' ? COMMON : WORKER;
  const fields = new Map<string, string>();
  for (const word of words) {
    const eq = word.indexOf('=');
    const key = eq === -1 ? word : word.slice(0, eq);
    const value = eq === -1 ? '' : word.slice(eq + 1);
    const rule = rules[key];
    if (!rule) {
      problems.push({
        line,
        message: `${where} ${name}: unknown field ${JSON.stringify(key)}; valid fields: ${Object.keys(rules).join(', ')}`,
      });
      continue;
    }
    if (fields.has(key)) {
      problems.push({ line, message: `${where} ${name}: ${key} is given twice` });
      continue;
    }
    if (!rule.check(value)) {
      problems.push({
        line,
        message: `${where} ${name}: ${key} ${JSON.stringify(value)} is not valid; expected ${rule.expected}`,
      });
      continue;
    }
    fields.set(key, value);
  }
  if (!fields.has('address') && !words.some((w) => w.startsWith('address='))) {
    problems.push({
      line,
      message: `${where} ${name}: address is missing; add address=<IPv4 or host name>`,
    });
  }
  return { name, line, fields };
}
