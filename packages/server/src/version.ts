/** Berth's version; also the tag of images Berth builds itself. */
export const BERTH_VERSION = '0.1.0';
