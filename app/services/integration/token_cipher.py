"""Encrypts Shopify tokens at rest with MultiFernet: the first key encrypts, every key decrypts."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class TokenDecryptionError(Exception):
    """No configured key decrypts the ciphertext (wrong keys, or the value was tampered with)."""


@dataclass(frozen=True, slots=True)
class Decrypted:
    plaintext: str
    key_index: int  # which ENCRYPTION_KEYS entry (0-based) decrypted it


class TokenCipher:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
        self._fernets = [Fernet(key.encode()) for key in keys]
        self._multi = MultiFernet(self._fernets)

    def encrypt(self, plaintext: str) -> str:
        return self._multi.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._multi.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise TokenDecryptionError("no configured encryption key decrypts this token") from exc

    def decrypt_with_key_index(self, ciphertext: str) -> Decrypted:
        for index, fernet in enumerate(self._fernets):
            try:
                return Decrypted(fernet.decrypt(ciphertext.encode()).decode(), index)
            except InvalidToken:
                continue
        raise TokenDecryptionError("no configured encryption key decrypts this token")

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt with the first key (a no-op in meaning; safe to repeat)."""
        try:
            return self._multi.rotate(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise TokenDecryptionError("no configured encryption key decrypts this token") from exc

    def needs_rotation(self, ciphertext: str) -> bool:
        return self.decrypt_with_key_index(ciphertext).key_index != 0


def token_prefix(token: str, shown: int = 6) -> str:
    """What may be printed of a secret: a short prefix and its length."""
    return f"{token[:shown]}... ({len(token)} chars)"
