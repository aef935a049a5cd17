"""A few rows through LightGBM's single-row C API, for serving latency.

`Booster.predict` builds a new predictor (Python side and C++ side) on every call: about 45 us
per booster for one row, against about 7 us through `LGBM_BoosterPredictForMatSingleRowFast`,
whose configuration is parsed once. A saved assay model averages several boosters (k fold models
and a refit), so for a one-row request this was a quarter of the whole prediction.

The results are LightGBM's own (the same C++ predictor, the same float32 input), so they equal
`Booster.predict` bit for bit (tests/models/test_lightgbm_single_row.py). One configuration is made
per thread: the C++ side serialises calls on a booster, but a configuration's buffers are not to be
shared by threads running at once.
"""

from __future__ import annotations

import ctypes
import functools
import threading
import weakref

import numpy as np

MAX_ROWS = 4  # above this, one batch call is as quick as a call per row
_PREDICT_NORMAL, _FLOAT32 = 0, 0  # C_API_PREDICT_NORMAL, C_API_DTYPE_FLOAT32


@functools.cache
def available() -> bool:
    """Does this LightGBM expose the C entry points used here? (They sit behind private names of
    lightgbm.basic; where those moved, predictions go through Booster.predict as before.)"""
    try:
        from lightgbm import basic

        return all(hasattr(basic, name) for name in ("_LIB", "_safe_call", "_c_str")) and hasattr(
            basic._LIB, "LGBM_BoosterPredictForMatSingleRowFast"
        )
    except Exception:  # an unloadable library fails later, where LightGBM is really needed
        return False


class SingleRowScorer:
    """Predictions of one booster (its first `num_iteration` rounds) for up to MAX_ROWS rows."""

    def __init__(self, booster, num_iteration: int | None, n_outputs: int):
        from lightgbm.basic import _LIB

        self.booster = booster
        self._lib = _LIB
        self._iterations = int(num_iteration or 0)  # 0: every round, as in Booster.predict
        self._n_features = booster.num_feature()
        self._n_outputs = n_outputs
        self._local = threading.local()
        self._handles: list[ctypes.c_void_p] = []
        self._lock = threading.Lock()
        # the configurations are freed with this scorer; the booster they point into is kept alive until then
        weakref.finalize(self, _free, _LIB, self._handles, booster)

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """`matrix`: float32 rows of the booster's features; one row of outputs per row."""
        from lightgbm.basic import _safe_call

        rows = np.ascontiguousarray(matrix, dtype=np.float32)
        if rows.ndim != 2 or rows.shape[1] != self._n_features:
            raise ValueError(f"expected rows of {self._n_features} features, got shape {rows.shape}")
        out = np.empty((len(rows), self._n_outputs), dtype=np.float64)
        written = ctypes.c_int64()
        handle = self._handle()
        for i in range(len(rows)):
            _safe_call(
                self._lib.LGBM_BoosterPredictForMatSingleRowFast(
                    handle,
                    rows[i].ctypes.data_as(ctypes.c_void_p),
                    ctypes.byref(written),
                    out[i].ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
                )
            )
        return out

    def _handle(self) -> ctypes.c_void_p:
        handle = getattr(self._local, "handle", None)
        if handle is None:
            from lightgbm.basic import _c_str, _safe_call

            handle = ctypes.c_void_p()
            _safe_call(
                self._lib.LGBM_BoosterPredictForMatSingleRowFastInit(
                    self.booster._handle,
                    ctypes.c_int(_PREDICT_NORMAL),
                    ctypes.c_int(0),  # start iteration
                    ctypes.c_int(self._iterations),
                    ctypes.c_int(_FLOAT32),
                    ctypes.c_int32(self._n_features),
                    _c_str("num_threads=1"),
                    ctypes.byref(handle),
                )
            )
            with self._lock:
                self._handles.append(handle)
            self._local.handle = handle
        return handle


def _free(lib, handles: list, booster) -> None:
    for handle in handles:
        lib.LGBM_FastConfigFree(handle)
    handles.clear()
