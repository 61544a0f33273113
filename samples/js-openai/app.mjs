// Sends one chat call through the OpenTelemetry JS openai instrumentation (spans and its GenAI log events)
// to Trulayer. A stand-in OpenAI server on 127.0.0.1 answers the call.
import http from 'node:http';
import { createRequire } from 'node:module';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { OpenAIInstrumentation } from '@opentelemetry/instrumentation-openai';

const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', c => body += c);
  req.on('end', () => {
    const request = JSON.parse(body);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({
      id: 'chatcmpl-standin-1', object: 'chat.completion', created: Math.floor(Date.now() / 1000),
      model: request.model + '-2024-08-06',
      choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Paris is the capital of France.' } }],
      usage: { prompt_tokens: 1000, completion_tokens: 100, total_tokens: 1100 },
    }));
  });
});
await new Promise(r => server.listen(0, '127.0.0.1', r));

const sdk = new NodeSDK({
  serviceName: 'js-openai-sample',
  instrumentations: [new OpenAIInstrumentation()],
});
sdk.start();

// The instrumentation patches CommonJS loads (require); an ESM import would need its loader hook.
const OpenAI = createRequire(import.meta.url)('openai').default;
const client = new OpenAI({ apiKey: 'sk-standin', baseURL: `http://127.0.0.1:${server.address().port}/v1` });
const completion = await client.chat.completions.create({
  model: 'gpt-4o',
  messages: [{ role: 'system', content: 'Answer briefly.' }, { role: 'user', content: 'What is the capital of France?' }],
});
console.log('answer:', completion.choices[0].message.content);
await sdk.shutdown();
server.close();
