"""Device, dtype and array↔tensor conversion.

This is the only module that knows about CUDA. Estimators ask it for a
:class:`Backend` (a device and a floating dtype), move their validated NumPy
input to tensors with :meth:`Backend.tensor` and bring results back with
:func:`to_numpy`, so fitted attributes are always NumPy arrays. It also
chooses how many CPU threads a fit uses (:func:`choose_n_threads`,
:func:`intra_op_threads`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import torch

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn the ``device`` parameter into a :class:`torch.device`.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"} or str or torch.device
        ``"auto"`` selects CUDA when available and the CPU otherwise. Any string
        torch understands (``"cuda:1"``) is accepted.

    Raises
    ------
    ValueError
        If ``device`` is not a device name, or names CUDA while torch cannot see
        a CUDA device.
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not understood; expected 'auto', 'cpu', 'cuda', "
            "'cuda:<index>' or a torch.device."
        ) from exc
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(
            f"device={device!r} is not supported; expected 'auto', 'cpu' or 'cuda'."
        )
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but torch cannot see a CUDA device; "
            "use device='cpu' or device='auto'."
        )
    return resolved


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """Turn the ``dtype`` parameter into a floating :class:`torch.dtype`.

    ``None`` means float64 on the CPU and float32 on CUDA.
    """
    if dtype is None:
        return torch.float32 if device.type == "cuda" else torch.float64
    if isinstance(dtype, torch.dtype) and dtype in _DTYPES.values():
        return dtype
    if isinstance(dtype, str) and dtype in _DTYPES:
        return _DTYPES[dtype]
    raise ValueError(
        f"dtype={dtype!r} is not supported; expected None, 'float32' or 'float64'."
    )


@dataclass(frozen=True)
class Backend:
    """Where and in which precision a fit runs."""

    device: torch.device
    dtype: torch.dtype

    @classmethod
    def from_params(
        cls, device: str | torch.device = "auto", dtype: str | torch.dtype | None = None
    ) -> Backend:
        """Resolve the estimator parameters ``device`` and ``dtype``."""
        resolved = resolve_device(device)
        return cls(resolved, resolve_dtype(dtype, resolved))

    def tensor(self, array) -> torch.Tensor:
        """Convert array-like input to a tensor on this backend.

        No copy is made when ``array`` already is a NumPy array or tensor of the
        right dtype on the right device, read-only arrays (pandas' copy-on-write
        views, memory maps) included. Callers must not write into the result.
        """
        if isinstance(array, torch.Tensor):
            return array.to(device=self.device, dtype=self.dtype)
        array = np.asarray(array)
        numpy_dtype = np.float32 if self.dtype == torch.float32 else np.float64
        array = np.ascontiguousarray(array, dtype=numpy_dtype)
        with warnings.catch_warnings():
            # torch warns that it cannot protect a read-only array from writes;
            # nothing here writes into its input
            warnings.filterwarnings("ignore", "The given NumPy array is not writable")
            return torch.from_numpy(array).to(self.device)

    def zeros(self, *shape: int) -> torch.Tensor:
        return torch.zeros(*shape, device=self.device, dtype=self.dtype)


CPU64 = Backend(torch.device("cpu"), torch.float64)
"""The backend used for predictions from fitted (NumPy) attributes."""


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """Detach a tensor and return it as a NumPy array (float64 for floats)."""
    array = tensor.detach().cpu().numpy()
    if np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64, copy=False)
    return array


SMALL_WORK = 1_000_000_000
"""Multiply-adds per operator product below which a fit runs on one thread.

A solver spends its time in operator products (``A W`` and ``Aᵀ Θ``; for the
gated operator one ``(n × d̃) · (d̃ × P c)`` matrix product and a masked
reduction each, ``n · P · d̃ · c`` multiply-adds). A second intra-op thread
has to be woken and joined at every product; on a machine whose cores are
shared with other work it waits for a core, and a fit of thousands of
products gets slower, not faster, with more threads. On a shared 2-core CPU,
with and without the other core kept busy, the gated operator's products on
two threads lost to one at every size measured up to a few times ``10**8``
and broke about even at ``10**9`` (the dense matrix product alone gained
between ``10**5`` and ``10**7`` but not reliably, and lost again above), so
the threshold is where two threads stop losing (``doc/benchmarks.rst``,
"Threads"). Below it a fit does not depend on the machine's thread setting.
"""


def choose_n_threads(n_threads: int | None, work: int) -> int:
    """The intra-op thread count for a fit whose products cost ``work``.

    Parameters
    ----------
    n_threads : int or None
        The estimator's ``n_threads`` parameter: an integer ``>= 1`` is used as
        given; ``None`` chooses from ``work``.
    work : int
        Multiply-adds of one operator product of the fit.

    Returns
    -------
    int
        ``n_threads`` when given; otherwise 1 when ``work`` is below
        :data:`SMALL_WORK`, and :func:`torch.get_num_threads` (the setting
        the user left, never more) when it is not. The rule is the same on
        CUDA, where the CPU threads only run the host-side work.

    Raises
    ------
    ValueError
        If ``n_threads`` is neither ``None`` nor an integer ``>= 1``.
    """
    if n_threads is not None:
        if (
            isinstance(n_threads, bool)
            or not isinstance(n_threads, Integral)
            or n_threads < 1
        ):
            raise ValueError(
                f"n_threads={n_threads!r} is not valid; expected None or an "
                "integer >= 1."
            )
        return int(n_threads)
    current = torch.get_num_threads()
    return 1 if work < SMALL_WORK else current


@contextmanager
def intra_op_threads(n_threads: int) -> Iterator[None]:
    """Run the block with ``n_threads`` intra-op threads, then restore the setting.

    :func:`torch.set_num_threads` is process-wide; the previous value is put
    back when the block ends, also when it raises.
    """
    previous = torch.get_num_threads()
    if n_threads != previous:
        torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)
