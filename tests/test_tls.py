from pathlib import Path

from cryptography import x509

from champion.tls import self_signed


def test_self_signed_certificate_is_made_once_and_covers_loopback(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    again = self_signed(tmp_path)
    assert (cert, key) == again
    assert key.stat().st_mode & 0o077 == 0
    loaded = x509.load_pem_x509_certificate(cert.read_bytes())
    names = loaded.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
