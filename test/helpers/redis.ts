/**
 * Redis for tests: the RESP client and prefix helpers of bench/redis.ts, plus the rule that a
 * missing Redis skips a suite locally and fails it under CI.
 */
import { redisCommand, redisUrl } from '../../bench/redis.js';

export {
  deletePrefix,
  pttl,
  redisCommand,
  redisUrl,
  scanKeys,
  uniquePrefix,
} from '../../bench/redis.js';

/**
 * True when Redis answers PING. When it does not: throws under `CI=true` (a missing Redis must
 * fail CI, not skip), otherwise prints why and returns false so suites can `describe.skipIf`.
 */
export async function requireRedis(): Promise<boolean> {
  try {
    const reply = await redisCommand(['PING']);
    if (reply !== 'PONG') throw new Error(`PING answered ${JSON.stringify(reply)}`);
    return true;
  } catch (err) {
    const reason = `Redis at ${redisUrl()} is unreachable: ${err instanceof Error ? err.message : String(err)}`;
    if (process.env['CI'] === 'true') throw new Error(`${reason} (CI=true: Redis is required)`);
    console.warn(`skipping Redis tests: ${reason}`);
    return false;
  }
}
