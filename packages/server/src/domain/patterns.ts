/**
 * Input patterns shared by the config schema and the API schemas. Names are DNS labels so they can
 * never become paths or options (B1); config paths are relative, segment by segment, with no empty,
 * `.` or `..` segment (B14).
 */
export const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const CONFIG_PATH = /^(?!\/)(?!.*\/\/)(?!.*\/$)(?!(.*\/)?\.\.?(\/|$))[A-Za-z0-9._/-]{1,255}$/;

/** An environment variable name: letters, digits and _, not starting with a digit. */
export const ENV_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;
