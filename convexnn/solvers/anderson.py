r"""Anderson acceleration of a fixed-point iteration :math:`w \leftarrow T(w)`.

Type II with memory ``m`` (Walker & Ni, 2011): from the last ``m``
differences of residuals :math:`F = [\Delta f_j]` (:math:`f = T(w) - w`) and of
images :math:`G = [\Delta T(w_j)]`, the next point is

.. math::
    w^+ = T(w) - G\gamma, \qquad
    \gamma = \arg\min_\gamma \|f - F\gamma\|^2 + \epsilon\|\gamma\|^2 ,

the image extrapolated along the secant directions that best cancel the
residual. The state is a tuple of tensors (the variables of the iteration);
the caller resets the memory whenever the map changes (a new penalty) or
progress stalls.
"""

from __future__ import annotations

import torch


class Anderson:
    """Anderson mixing of tuples of tensors, memory ``memory``."""

    def __init__(self, memory: int, regularization: float = 1e-10):
        self.memory = memory
        self.regularization = regularization
        self.reset()

    def reset(self):
        """Forget the history (the next step is a plain fixed-point step)."""
        self._last = None
        self._residual_steps, self._image_steps = [], []

    def __call__(self, state: tuple, image: tuple) -> tuple:
        """The accelerated next state, given ``state`` and ``image = T(state)``."""
        flat_image = torch.cat([part.reshape(-1) for part in image])
        residual = flat_image - torch.cat([part.reshape(-1) for part in state])
        if self._last is not None:
            last_residual, last_image = self._last
            self._residual_steps.append(residual - last_residual)
            self._image_steps.append(flat_image - last_image)
            if len(self._residual_steps) > self.memory:
                del self._residual_steps[0], self._image_steps[0]
        self._last = (residual, flat_image)
        if not self._residual_steps:
            return image
        F = torch.stack(self._residual_steps, 1)
        gram = F.T @ F
        gram.diagonal().add_(
            self.regularization * float(gram.diagonal().max()) + 1e-300
        )
        gamma = torch.linalg.solve(gram, F.T @ residual)
        mixed = flat_image - torch.stack(self._image_steps, 1) @ gamma
        parts = mixed.split([part.numel() for part in image])
        pairs = zip(parts, image, strict=True)
        return tuple(new.view(part.shape) for new, part in pairs)
