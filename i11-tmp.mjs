import { freshFlash, virtualBoard } from './dist/src/node/virtual-board.js';
import { ReplClient } from './dist/src/repl/index.js';
const board = virtualBoard(freshFlash()); await board.powerOn(); await board.idle();
const c = new ReplClient(board.connect()); await c.enterRawRepl();
const p = await c.startProgram(`
import select, sys
p = select.poll()
p.register(sys.stdin, select.POLLIN)
print('A', p.poll(0))
print('B', p.poll(2000))
b = bytearray(3)
sys.stdin.buffer.readinto(b)
print('C', b, p.poll(0))
`);
console.log(new TextDecoder().decode(await p.output.readUntil('A', {timeoutMs: 5000})));
await p.write(new TextEncoder().encode('xyz'));
console.log(new TextDecoder().decode(await p.finish()));
await board.stop();
