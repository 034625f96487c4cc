/**
 * Golden fixtures: packets captured with tcpdump 4.99.3 on Linux loopback, made by the kernel
 * (a TCP connection over 127.0.0.1 and ::1, UDP to a closed port and the ICMP port-unreachable
 * errors it drew, ICMP echo replies). Loopback offloads TCP and UDP checksums, so those fields
 * hold a partial sum in the capture; `correctChecksum` is the value tcpdump -vv computed for
 * them ("cksum 0xfe30 (incorrect -> 0x0945)"), an oracle independent of this code. ICMP
 * checksums were correct as captured ("icmp6 sum ok").
 */

function hex(h: string): Uint8Array {
  return Uint8Array.from(h.match(/../g)!.map((x) => parseInt(x, 16)));
}

export const CAPTURES = {
  /** 127.0.0.1:39268 -> :40111 SYN, options mss 65495, sackOK, TS val 863696878 ecr 0, nop, wscale 10. */
  tcp4Syn: {
    bytes: hex('4500003c4e5d40004006ee5c7f0000017f00000199649cafe521001b00000000a002ffd7fe3000000204ffd70402080a337af7ee000000000103030a'),
    correctChecksum: 0x0945,
  },
  /** Same connection, 9 bytes "hello nat", PSH ACK, seq 1:10 relative (3844145180). */
  tcp4Data: {
    bytes: hex('4500003d4e5f40004006ee597f0000017f00000199649cafe521001cca6542a080180040fe3100000101080a337af7f0471588e168656c6c6f206e6174'),
    correctChecksum: 0x2e5c,
  },
  /** [::1]:37472 -> :40112 SYN, flow label 0xcb6a2, mss 65476. */
  tcp6Syn: {
    bytes: hex('600cb6a200280640000000000000000000000000000000010000000000000000000000000000000192609cb032e8cacb00000000a002ffc4003000000204ffc40402080a45149edb000000000103030a'),
    correctChecksum: 0x3d71,
  },
  tcp6Data: {
    bytes: hex('600cb6a200290640000000000000000000000000000000010000000000000000000000000000000192609cb032e8cacc811ded4880180040003100000101080a45149edb585b095e68656c6c6f20736978'),
    correctChecksum: 0x6639,
  },
  /** 127.0.0.1:46784 -> :40999 "ping udp4". */
  udp4: {
    bytes: hex('45000025e187400040115b3e7f0000017f000001b6c0a0270011fe2470696e672075647034'),
    correctChecksum: 0x132b,
  },
  /** [::1]:44066 -> :40999 "ping udp6". */
  udp6: {
    bytes: hex('600a79cb001111400000000000000000000000000000000100000000000000000000000000000001ac22a0270011002470696e672075647036'),
    correctChecksum: 0x19ca,
  },
  /** ICMP destination unreachable, port (3/3), quoting udp4 whole (with its partial checksum). */
  icmp4PortUnreachable: {
    bytes: hex('45c00041d2c100004001a9387f0000017f000001030310280000000045000025e187400040115b3e7f0000017f000001b6c0a0270011fe2470696e672075647034'),
  },
  /** ICMPv6 destination unreachable, port (1/4), quoting udp6 whole. */
  icmp6PortUnreachable: {
    bytes: hex('600ceb1000413a40000000000000000000000000000000010000000000000000000000000000000101042d2000000000600a79cb001111400000000000000000000000000000000100000000000000000000000000000001ac22a0270011002470696e672075647036'),
  },
  /** ICMP echo reply, id 0x1234, seq 1, data "abcdefgh". */
  icmp4EchoReply: {
    bytes: hex('45000024d2ea00004001a9ec7f0000017f00000100005c35123400016162636465666768'),
  },
  /** ICMPv6 echo reply, id 0x4321, seq 7, data "abcdefgh", flow label 0x4a61d. */
  icmp6EchoReply: {
    bytes: hex('6004a61d00103a4000000000000000000000000000000001000000000000000000000000000000018100a9f5432100076162636465666768'),
  },
} as const;
