/** A partition table for people (like the seed's status output) and scripts. */
import { hex } from '../../format/bytes.js';
import { withThousands, humanSize } from '../../format/units.js';
import { subtypeName, typeName, type Partition, type PartitionTable } from '../../format/partition-table.js';
import { renderTable } from '../text-table.js';

export interface PartitionJson {
  label: string;
  type: string;
  typeValue: number;
  subtype: string;
  subtypeValue: number;
  offset: number;
  size: number;
  encrypted: boolean;
  readonly: boolean;
}

export function partitionJson(partition: Partition): PartitionJson {
  return {
    label: partition.label,
    type: typeName(partition.type),
    typeValue: partition.type,
    subtype: subtypeName(partition.type, partition.subtype),
    subtypeValue: partition.subtype,
    offset: partition.offset,
    size: partition.size,
    encrypted: partition.encrypted,
    readonly: partition.readonly,
  };
}

export function partitionTableJson(table: PartitionTable) {
  return { hasMd5: table.hasMd5, partitions: table.partitions.map(partitionJson) };
}

export function partitionTableText(table: PartitionTable): string {
  const rows = [...table.partitions]
    .sort((a, b) => a.offset - b.offset)
    .map((p) => [
      p.label,
      typeName(p.type),
      subtypeName(p.type, p.subtype),
      hex(p.offset),
      hex(p.size),
      withThousands(p.size),
      humanSize(p.size),
      [p.encrypted ? 'encrypted' : '', p.readonly ? 'readonly' : ''].filter(Boolean).join(','),
    ]);
  return renderTable(
    [
      { header: 'Name' },
      { header: 'Type' },
      { header: 'SubType' },
      { header: 'Offset', align: 'right' },
      { header: 'Size', align: 'right' },
      { header: '(bytes)', align: 'right' },
      { header: '', align: 'right' },
      { header: 'Flags' },
    ],
    rows,
  );
}
