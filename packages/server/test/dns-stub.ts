import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import * as dnsPacket from 'dns-packet';

export interface DnsStub {
  /** `127.0.0.1:<port>`, for `egress.dnsServers`. */
  address: string;
  /** Every name asked, in order. */
  queries: string[];
  close(): void;
}

/**
 * A stub authoritative DNS server on loopback for the gateway's resolver: A queries get what
 * `answer` says (null: no such name), with `ttl`; every other type gets no answer.
 */
export async function startDnsStub(answer: (name: string) => string | null, ttl = 0): Promise<DnsStub> {
  const socket: Socket = createSocket('udp4');
  const queries: string[] = [];
  socket.on('message', (msg, rinfo) => {
    const q = dnsPacket.decode(msg);
    const question = q.questions?.[0];
    if (!question) return;
    queries.push(question.name);
    const ip = question.type === 'A' ? answer(question.name) : null;
    const reply = dnsPacket.encode({
      type: 'response',
      id: q.id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER,
      questions: q.questions,
      answers: ip ? [{ type: 'A', name: question.name, ttl, data: ip }] : [],
    });
    socket.send(reply, rinfo.port, rinfo.address);
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return { address: `127.0.0.1:${socket.address().port}`, queries, close: () => socket.close() };
}
