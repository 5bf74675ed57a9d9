export {
  decryptPayload,
  decryptStreamFrame,
  ENCRYPTION_OVERHEAD,
  ENCRYPTION_OVERHEAD_MAX,
  ENCRYPTION_VERSION_GCM,
  ENCRYPTION_VERSION_PADDED,
  type EncryptionVersion,
  encryptedLength,
  encryptPayload,
  encryptStreamFrame,
  MAX_STREAM_FRAME,
  readStreamFrameLength,
  STREAM_FRAME_HEADER,
  STREAM_FRAME_TYPE,
} from './aes-gcm.js';
export { decodeKey, encodeKey, KEY_SIZES, Keyring } from './keyring.js';
