/** Names of the images devcluster knows by name (their URLs and checksums arrive with the image cache). */
export const IMAGE_NAMES = ['ubuntu-24.04', 'ubuntu-22.04', 'fedora-42', 'debian-12'] as const;
export type ImageName = (typeof IMAGE_NAMES)[number];
