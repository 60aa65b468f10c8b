/**
 * The boot sector the KVM probe runs: 512 bytes that SeaBIOS loads at 0x7c00 and that walk through
 * the mode switches every real boot loader and kernel makes, writing one letter to the serial port
 * (COM1, 0x3f8) after each stage:
 *   R  real mode reached (SeaBIOS handed over)
 *   D  a BIOS disk read through int 13h AH=42h (EDD), as SYSLINUX and GRUB load themselves; SeaBIOS
 *      serves it by switching to 32-bit mode and back, so this already exercises mode switches
 *   P  protected mode entered (lgdt, CR0.PE, far jump, flat segments)
 *   I  an IRET in protected mode, the instruction every interrupt handler returns with
 *   L  long mode entered (PAE paging, EFER.LME, CR0.PG), then "OK" and a newline.
 * A working KVM runs all of it natively in well under a second. On the nested KVM of the machines
 * in /work/shared/facts/host.md, qemu stops after "RDP" with "KVM internal error. Suberror: 1 …
 * emulation failure" at the IRET, as it does for SYSLINUX 6.04 (its protected-mode interrupt return,
 * also an `iret`, at 0x8ffc), and libvirt then shows the domain paused.
 *
 * Assembled with GNU as (`gcc -m32 -c`, `.code16`/`.code32`/`.code64`) and linked at 0x7c00; each
 * row below is one instruction's bytes beside its source line, so the image is reviewable here.
 */

const CODE: ReadonlyArray<readonly [hex: string, asm: string]> = [
  // start: segments 0, stack below the boot sector, keep the BIOS boot drive (DL) in BL
  ['fa', 'cli'],
  ['31c0', 'xor %ax,%ax'],
  ['8ed8', 'mov %ax,%ds'],
  ['8ec0', 'mov %ax,%es'],
  ['8ed0', 'mov %ax,%ss'],
  ['bc007c', 'mov $0x7c00,%sp'],
  ['88d3', 'mov %dl,%bl'],
  ['b052', "mov $'R',%al"],
  ['e82f00', 'call putc'],
  ['fb', 'sti'],
  ['88da', 'mov %bl,%dl'],
  ['be067d', 'mov $dap,%si'],
  ['b442', 'mov $0x42,%ah'],
  ['cd13', 'int $0x13            # read sector 0 again, to 0x8000'],
  ['fa', 'cli'],
  ['721f', 'jc stop'],
  ['813efe8155aa', 'cmpw $0xaa55,0x81fe  # it is our own sector'],
  ['7517', 'jne stop'],
  ['b044', "mov $'D',%al"],
  ['e81500', 'call putc'],
  ['0f0116007d', 'lgdt gdtr'],
  ['0f20c0', 'mov %cr0,%eax'],
  ['0c01', 'or $1,%al'],
  ['0f22c0', 'mov %eax,%cr0'],
  ['ea477c0800', 'ljmp $0x08,$pm'],
  // stop:
  ['f4', 'hlt'],
  ['ebfd', 'jmp stop'],
  // putc:
  ['baf803', 'mov $0x3f8,%dx'],
  ['ee', 'out %al,%dx'],
  ['c3', 'ret'],
  // pm: (.code32)
  ['66b81000', 'mov $0x10,%ax'],
  ['8ed8', 'mov %ax,%ds'],
  ['8ec0', 'mov %ax,%es'],
  ['8ed0', 'mov %ax,%ss'],
  ['bc007c0000', 'mov $0x7c00,%esp'],
  ['66baf803', 'mov $0x3f8,%dx'],
  ['b050', "mov $'P',%al"],
  ['ee', 'out %al,%dx'],
  ['9c', 'pushf'],
  ['6a08', 'push $0x08'],
  ['68667c0000', 'push $ir'],
  ['cf', 'iret'],
  // ir:
  ['b049', "mov $'I',%al"],
  ['ee', 'out %al,%dx'],
  ['bf00100000', 'mov $0x1000,%edi     # page tables at 0x1000-0x3fff, zeroed'],
  ['31c0', 'xor %eax,%eax'],
  ['b9000c0000', 'mov $0xc00,%ecx'],
  ['f3ab', 'rep stosl'],
  ['c7050010000003200000', 'movl $0x2003,0x1000  # PML4[0] -> PDPT'],
  ['c7050020000003300000', 'movl $0x3003,0x2000  # PDPT[0] -> PD'],
  ['c7050030000083000000', 'movl $0x83,0x3000    # PD[0]: 2 MiB page at 0'],
  ['b800100000', 'mov $0x1000,%eax'],
  ['0f22d8', 'mov %eax,%cr3'],
  ['0f20e0', 'mov %cr4,%eax'],
  ['83c820', 'or $0x20,%eax         # CR4.PAE'],
  ['0f22e0', 'mov %eax,%cr4'],
  ['b9800000c0', 'mov $0xc0000080,%ecx  # EFER'],
  ['0f32', 'rdmsr'],
  ['0d00010000', 'or $0x100,%eax        # EFER.LME'],
  ['0f30', 'wrmsr'],
  ['0f20c0', 'mov %cr0,%eax'],
  ['0d00000080', 'or $0x80000000,%eax   # CR0.PG'],
  ['0f22c0', 'mov %eax,%cr0'],
  ['eac67c00001800', 'ljmp $0x18,$lm'],
  // lm: (.code64)
  ['66baf803', 'mov $0x3f8,%dx'],
  ['b04c', "mov $'L',%al"],
  ['ee', 'out %al,%dx'],
  ['b04f', "mov $'O',%al"],
  ['ee', 'out %al,%dx'],
  ['b04b', "mov $'K',%al"],
  ['ee', 'out %al,%dx'],
  ['b00a', "mov $'\\n',%al"],
  ['ee', 'out %al,%dx'],
  ['f4', '1: hlt'],
  ['ebfd', 'jmp 1b'],
  ['8db42600000000', '.p2align 3 (filler)'],
  // gdt: at 0x7ce0
  ['0000000000000000', '.quad 0'],
  ['ffff0000009acf00', '.quad 0x00cf9a000000ffff  # 0x08 flat 32-bit code'],
  ['ffff00000092cf00', '.quad 0x00cf92000000ffff  # 0x10 flat data'],
  ['ffff0000009aaf00', '.quad 0x00af9a000000ffff  # 0x18 64-bit code'],
  // gdtr: at 0x7d00
  ['1f00', '.word gdtr-gdt-1'],
  ['e07c0000', '.long gdt'],
  // dap: at 0x7d06, the EDD disk address packet
  ['1000', '.byte 16,0'],
  ['0100', '.word 1                # one sector'],
  ['00800000', '.word 0x8000,0         # to 0000:8000'],
  ['0000000000000000', '.quad 0                # LBA 0'],
];

/** The serial output of a guest that ran every stage. */
export const PROBE_SUCCESS = 'RDPILOK';

/** What each stage letter means, for a probe that stopped after it. */
export const PROBE_STAGES: Readonly<Record<string, string>> = {
  '': 'before the boot sector ran (firmware)',
  R: 'in real mode, at a BIOS disk read (int 13h)',
  D: 'at the switch to protected mode',
  P: 'at an IRET in protected mode',
  I: 'at the switch to long mode',
  L: 'in long mode',
};

/** The 512-byte boot sector (MBR layout: code, zero fill, 0x55 0xaa). */
export function probeBootSector(): Buffer {
  const code = Buffer.from(CODE.map(([hex]) => hex).join(''), 'hex');
  if (code.length > 510) throw new Error(`probe boot sector code is ${code.length} bytes, more than 510`);
  const sector = Buffer.alloc(512);
  code.copy(sector);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}
