/**
 * The two library functions the phone and domain normalizers use, alone in a module that
 * `loadNormalizers()` imports dynamically (domain/accounts/normalize.ts): a dynamic import keeps
 * every export of what it imports, so importing the packages themselves would bundle all of them.
 */
export { parsePhoneNumberFromString } from 'libphonenumber-js/min';
export { getDomain } from 'tldts';
