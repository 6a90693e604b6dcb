/** A fleet request that cannot be carried out as given: a bad name, stages, broker address, or a fleet with no devices. */
export class FleetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FleetError';
  }
}
