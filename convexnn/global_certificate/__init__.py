r"""Certificates beyond the sampled activation patterns.

A gated or convex ReLU fit solves its problem over the activation patterns
:math:`D_i = \operatorname{diag}(\mathbf 1[\tilde Xg_i > 0])` of its gates.
The network itself may use any pattern of the data's hyperplane arrangement.
The fit is the optimum of the *whole* network exactly when its dual point
:math:`\Theta = \nabla f(Z)` satisfies the dual constraint of every pattern:

* gated ReLU: :math:`\omega^*\bigl((D\tilde X)^\top\Theta\bigr) \le \alpha`
  for every ``D`` (spectral norm for the nuclear group norm, Frobenius for the
  Frobenius one, Euclidean for one output);
* convex ReLU: :math:`\max_{\|u\|\le1}|\theta_k^\top(\tilde Xu)_+| \le \alpha`
  for every output ``k``, which per pattern is
  :math:`\max\{\pm\theta_k^\top D\tilde Xu : (2D - I)\tilde Xu \ge 0,\ \|u\|\le1\}
  \le \alpha`.

With :math:`\rho` the largest ratio of the left side to :math:`\alpha`,
:math:`\Theta/\max(1, \rho)` is dual feasible for all patterns and
:math:`-f^*(\Theta/\max(1,\rho))` a lower bound on the optimum of the whole
network (:mod:`.certificate`). The patterns are enumerated exactly for small
data and searched heuristically otherwise (:mod:`.search`); the per-pattern
values are in :mod:`.dual`, the estimator methods in :mod:`.mixin`.
"""

from .certificate import GlobalCertificate, certify_patterns
from .mixin import GlobalCertificateMixin

__all__ = ["GlobalCertificate", "GlobalCertificateMixin", "certify_patterns"]
