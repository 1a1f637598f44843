# Remakes the corpus files (run with Debian's /usr/bin/python3, which has torch 1.13).
import io
import struct
import zipfile

import torch


def safetensors(header: bytes, data: bytes = b'') -> bytes:
    return struct.pack('<Q', len(header)) + header + data


def zip_checkpoint(name: str, files) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as z:
        for n, d in files:
            z.writestr(n, d)
    open(name, 'wb').write(buf.getvalue())


open('safetensors-null-entry.safetensors', 'wb').write(safetensors(b'{"a": null}'))
open('safetensors-nested-header.safetensors', 'wb').write(
    safetensors(b'{"a": {"dtype": "F32", "shape": [[[[[[[[2]]]]]]]], "data_offsets": [0, 8]}}', b'\0' * 8))

# Lists nested 1,100 deep, built parent-first: EMPTY_LIST, LONG_BINPUT, APPEND, POP, LONG_BINGET.
idx = lambda i: struct.pack('<I', i)
pickle = bytearray(b'\x80\x02]r' + idx(0))
for i in range(1100):
    pickle += b']r' + idx(i + 1) + b'a0j' + idx(i + 1)
pickle += b'0j' + idx(0) + b'.'
zip_checkpoint('pickle-nested-parent-first.pth', [('archive/data.pkl', bytes(pickle)), ('archive/version', b'3\n')])

# A zip bomb: torch.save of a one-element view of a 260 MiB storage of zeros, re-zipped with deflate.
buf = io.BytesIO()
torch.save({'w': torch.zeros(260 * 1024 * 1024 // 4)[:1]}, buf)
saved = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
zip_checkpoint('zip-bomb-260mib-record.pth', [(i.filename, saved.read(i.filename)) for i in saved.infolist()])
