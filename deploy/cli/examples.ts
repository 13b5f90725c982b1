/** Examples per command, shown by `--help` and in docs/reference/cli.md. */
export const EXAMPLES: Record<string, readonly string[]> = {
  'faasflow up': [
    'faasflow up --demo                  # master + 2 workers, the examples deployed, one run',
    'faasflow up --workers 4 --redis redis://127.0.0.1:6379',
    'faasflow up --demo --exit           # the demo, then stop (what CI runs)',
  ],
  'faasflow master': [
    'faasflow master --port 8080 --placement greedy-jsq',
    'faasflow master --harvest on --redis-url redis://127.0.0.1:6379',
    'FAASFLOW_PORT=9000 faasflow master   # every option has its FAASFLOW_* variable',
  ],
  'faasflow worker': [
    'faasflow worker --master-url http://127.0.0.1:8080 --worker-id w1',
    'faasflow worker --master http://10.0.0.1:8080 --runtime docker --redis-url redis://10.0.0.1:6379',
  ],
  'faasflow validate': [
    'faasflow validate deploy/examples/video-analytics.yaml --workers 3',
    'faasflow validate my.yaml --json | jq .valid',
  ],
  'faasflow deploy': [
    'faasflow deploy deploy/examples/hello.yaml',
    'faasflow deploy my.yaml --name my-v2 --json',
  ],
  'faasflow invoke': [
    `faasflow invoke hello --input '{"name":"ada"}'`,
    'faasflow invoke video-analytics --input @input.json --timeout 30000',
    'faasflow invoke hello --no-wait --json | jq -r .invocationId',
  ],
  'faasflow compose': [
    'faasflow compose ocr-pipeline --sub-tenant acme-eu',
    `faasflow compose ocr-pipeline --input '{"lang":"de","text":"..."}' --top 3 --json`,
  ],
  'faasflow feedback': ['faasflow feedback inv_0123abcd 1'],
  'faasflow status': [
    'faasflow status inv_0123abcd',
    'faasflow status inv_0123abcd --json | jq .steps',
  ],
  'faasflow workers': ['faasflow workers', 'faasflow workers --json | jq ".workers | length"'],
  'faasflow profile': [
    'faasflow profile harvest-fanout --inputs inputs/',
    'faasflow profile harvest-fanout --generate 20 --generator gen.js --levels 1..5 --concurrency 2',
  ],
  'faasflow profiles export': ['faasflow profiles export harvest-fanout --out profiles.csv'],
  'faasflow profiles import': ['faasflow profiles import harvest-fanout profiles.csv'],
  'faasflow models': ['faasflow models harvest-fanout --train'],
  'faasflow bench partition': ['faasflow bench partition --smoke'],
  'faasflow bench overhead': ['faasflow bench overhead --iterations 200 --out reports/'],
  'faasflow bench sandbox': ['faasflow bench sandbox --runtime process,thread,trusted'],
  'faasflow bench faasflow': ['faasflow bench faasflow --benchmarks genome,video --modes worker'],
  'faasflow bench peer': ['faasflow bench peer --smoke --redis redis://127.0.0.1:6379'],
  'faasflow bench harvest': ['faasflow bench harvest --smoke'],
};
