"""Writes the crafted torch.save-format files that TorchBinFileTest reads (run with Python 3 + numpy;
no torch needed). The pickles are made by Python's own pickle module through stand-ins for the
torch globals (same module and names, same __reduce_ex__ results and persistent ids as
torch/serialization.py), so their opcodes are what torch.save emits. Expected values are computed
independently with numpy.lib.stride_tricks.as_strided and saved in expected.safetensors.

    cd models/src/test/resources/checkpoint && python3 make_torch_pickles.py
"""
import collections
import io
import json
import pickle
import struct
import sys
import types
import zipfile

import numpy as np

torch = types.ModuleType("torch")
_utils = types.ModuleType("torch._utils")
torch._utils = _utils
sys.modules["torch"] = torch
sys.modules["torch._utils"] = _utils


def _global(module, name, obj):
    obj.__module__ = module.__name__
    obj.__qualname__ = name
    obj.__name__ = name
    setattr(module, name, obj)
    return obj


STORAGE = {}
for cls_name, np_dtype in [("FloatStorage", "<f4"), ("HalfStorage", "<f2"), ("BFloat16Storage", "<u2"),
                           ("LongStorage", "<i8"), ("DoubleStorage", "<f8"), ("BoolStorage", "|u1"), ("IntStorage", "<i4")]:
    STORAGE[cls_name] = (_global(torch, cls_name, type(cls_name, (), {})), np_dtype)


def _rebuild_tensor_v2(*args):
    raise AssertionError("never called")


def _rebuild_parameter(*args):
    raise AssertionError("never called")


_global(_utils, "_rebuild_tensor_v2", _rebuild_tensor_v2)
_global(_utils, "_rebuild_parameter", _rebuild_parameter)


class Storage:
    def __init__(self, kind, key, values, view=None):
        self.typ, self.np_dtype = STORAGE[kind]
        self.key = key
        self.values = np.asarray(values, dtype=self.np_dtype)
        self.view = view  # legacy only: (view_key, offset, size)


class Tensor:
    def __init__(self, storage, offset, size, stride, requires_grad=False):
        self.storage, self.offset, self.size, self.stride, self.requires_grad = storage, offset, size, stride, requires_grad

    def __reduce_ex__(self, proto):
        return (_rebuild_tensor_v2, (self.storage, self.offset, tuple(self.size), tuple(self.stride),
                                     self.requires_grad, collections.OrderedDict()))

    def expected(self):
        base = self.storage.values
        if self.storage.view is not None:
            _, vo, vs = self.storage.view
            base = base[vo:vo + vs]
        base = base[self.offset:]
        return np.lib.stride_tricks.as_strided(base, self.size, [s * base.itemsize for s in self.stride]).copy()


class Parameter:
    def __init__(self, tensor):
        self.tensor = tensor

    def __reduce_ex__(self, proto):
        return (_rebuild_parameter, (self.tensor, True, collections.OrderedDict()))

    def expected(self):
        return self.tensor.expected()


rng = np.random.default_rng(42)
s_f32 = Storage("FloatStorage", "0", rng.standard_normal(12, dtype=np.float32))
s_f16 = Storage("HalfStorage", "1", rng.standard_normal(4).astype(np.float16))
s_bf16 = Storage("BFloat16Storage", "2", (rng.standard_normal(5).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16))
s_i64 = Storage("LongStorage", "3", np.arange(4, dtype=np.int64) * 10**12)
s_f64 = Storage("DoubleStorage", "4", rng.standard_normal(3))
s_bool = Storage("BoolStorage", "5", [1, 0, 1])
s_i32 = Storage("IntStorage", "6", np.arange(24, dtype=np.int32) - 7)

state = collections.OrderedDict()
state["w"] = Tensor(s_f32, 0, [3, 4], [4, 1])
state["wt"] = Tensor(s_f32, 0, [4, 3], [1, 4])            # transpose sharing w's storage
state["block"] = Tensor(s_f32, 5, [2, 2], [4, 1])         # slice with a storage offset
state["expanded"] = Tensor(s_f16, 1, [3, 2], [0, 1])      # stride 0
state["h"] = Parameter(Tensor(s_bf16, 0, [5], [1], True))
state["position_ids"] = Tensor(s_i64, 0, [1, 4], [4, 1])
state["scalar"] = Tensor(s_f64, 2, [], [])
state["flags"] = Tensor(s_bool, 0, [3], [1])
state["permuted"] = Tensor(s_i32, 0, [2, 3, 4], [1, 8, 2])  # a permute of a [3,4,2] tensor
state["empty"] = Tensor(s_f32, 0, [0, 4], [4, 1])
state._metadata = collections.OrderedDict([("", {"version": 1})])  # as nn.Module.state_dict() sets


def storages_of(st):
    seen = collections.OrderedDict()
    for v in st.values():
        t = v.tensor if isinstance(v, Parameter) else v
        seen.setdefault(t.storage.key, t.storage)
    return seen


class ZipPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.typ, obj.key, "cpu", len(obj.values))
        return None


def write_zip(name, st, byteorder="little", prefix="archive"):
    buf = io.BytesIO()
    ZipPickler(buf, protocol=2).dump(st)
    with zipfile.ZipFile(name, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(prefix + "/data.pkl", buf.getvalue())
        z.writestr(prefix + "/byteorder", byteorder)
        for key, s in storages_of(st).items():
            vals = s.values.astype(s.values.dtype.newbyteorder(">" if byteorder == "big" else "<"))
            z.writestr(prefix + "/data/" + key, vals.tobytes())
        z.writestr(prefix + "/version", "3\n")


class LegacyPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.typ, obj.key, "cpu", len(obj.values), obj.view)
        return None


def write_legacy(name, st):
    f = io.BytesIO()
    pickle.dump(0x1950a86a20f9469cfc6c, f, protocol=2)
    pickle.dump(1001, f, protocol=2)
    pickle.dump({"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}, f, protocol=2)
    LegacyPickler(f, protocol=2).dump(st)
    stores = storages_of(st)
    pickle.dump(list(stores.keys()), f, protocol=2)
    for key, s in stores.items():
        f.write(struct.pack("<q", len(s.values)))
        f.write(s.values.tobytes())
    with open(name, "wb") as out:
        out.write(f.getvalue())


SAFE = {"<f4": "F32", "<f2": "F16", "<u2": "BF16", "<i8": "I64", "<f8": "F64", "|u1": "BOOL", "<i4": "I32"}


def write_expected(name, st):
    header, blobs, off = {}, [], 0
    for k, v in st.items():
        a = v.expected()
        raw = np.ascontiguousarray(a).tobytes()
        header[k] = {"dtype": SAFE[a.dtype.str], "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(name, "wb") as out:
        out.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


write_zip("strided.bin", state)
write_zip("strided_bigendian.bin", state, byteorder="big", prefix="strided_bigendian")
write_expected("expected.safetensors", state)

# legacy format, with a storage view (view_metadata) as pre-1.6 torch could write
legacy = collections.OrderedDict(state)
s_view = Storage("FloatStorage", "0", s_f32.values, view=("v7", 2, 8))
legacy["viewed"] = Tensor(s_view, 1, [2, 3], [3, 1])
legacy._metadata = state._metadata
write_legacy("legacy.bin", legacy)
write_expected("expected_legacy.safetensors", legacy)
print("wrote strided.bin strided_bigendian.bin legacy.bin expected*.safetensors")
