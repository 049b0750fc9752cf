"""The estimator side: ``certify_global`` and ``refine_patterns``.

:class:`GlobalCertificateMixin` serves the gated ReLU estimators (``coef_`` of
shape ``(P, d̃, c)``, group-lasso dual) and the convex ReLU estimators
(``coef_`` of shape ``(2, P, d̃, c)``, cone-constrained dual). It needs the
fitted attributes every one of them has (``gates_``, ``coef_``,
``intercept_``) and their parameters ``alpha``, ``hidden_bias`` and
``fit_intercept``.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils.validation import check_is_fitted, validate_data

from ..patterns import lift
from .certificate import GlobalCertificate, certify_patterns

FLOAT_DTYPES = (np.float64, np.float32)


class GlobalCertificateMixin:
    """Certificates over every activation pattern, and pattern generation."""

    def certify_global(
        self,
        X,
        y,
        *,
        sample_weight=None,
        search: str = "auto",
        max_candidates: int = 1_000_000,
        n_random: int = 2000,
        random_state=0,
    ) -> GlobalCertificate:
        """Certify the fit against every activation pattern of ``X``.

        The fit is optimal for its own gates; this checks whether its dual
        point also satisfies the dual constraint of every other activation
        pattern of the training data, which makes it the optimum of the whole
        network (every hidden neuron possible). See
        :mod:`convexnn.global_certificate` for the mathematics.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The training data the model was fitted on.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Its targets (class labels for a classifier).
        sample_weight : array-like of shape (n_samples,), default=None
            The weights the model was fitted with (a classifier multiplies
            them by its ``class_weight``, as ``fit`` does); samples of weight
            zero are left out, as in ``fit``.
        search : {"auto", "exact", "heuristic"}, default="auto"
            ``"exact"`` enumerates every pattern of the data's hyperplane
            arrangement and fails when that is too large or the data are not
            in general position; ``"heuristic"`` searches (random gates, ascent
            on the dual function, local moves across hyperplanes);
            ``"auto"`` enumerates when it can and searches otherwise.
        max_candidates : int, default=1_000_000
            Largest number of candidate gates the enumeration may try
            (``C(n, d̃−1)·2^d̃``).
        n_random : int, default=2000
            Random gates drawn by the heuristic search.
        random_state : int, RandomState instance or None, default=0
            Seeds the heuristic search.

        Returns
        -------
        GlobalCertificate
            ``max_violation`` at most 1 with ``exact`` proves the fit is the
            optimum of the whole network up to ``global_gap``; above 1 proves
            it is not, and ``violating_gates`` say which patterns to add
            (:meth:`refine_patterns`).
        """
        check_is_fitted(self)
        X, Y, loss, weights = self._training_targets(X, y, sample_weight)
        X_lifted = lift(X, self.hidden_bias)
        Z = self._outputs(X)
        return certify_patterns(
            X_lifted,
            Z,
            Y,
            loss=loss,
            alpha=self.alpha,
            fit_intercept=self.fit_intercept,
            primal=self._global_objective(Z, Y, loss, weights),
            fitted_gates=self.gates_,
            formulation="cone" if self.coef_.ndim == 4 else "gated",
            group_norm=getattr(self, "group_norm", "nuclear"),
            sample_weight=weights,
            search=search,
            max_candidates=max_candidates,
            n_random=n_random,
            random_state=random_state,
        )

    def refine_patterns(
        self,
        X,
        y,
        *,
        sample_weight=None,
        max_rounds: int = 10,
        tol: float | None = None,
        **search,
    ):
        """Add violating patterns and refit until none is found.

        Each round certifies the fit (:meth:`certify_global`) and stops when
        the relative global gap is at most ``tol`` or no new pattern violates
        the dual constraint; otherwise it appends the violating gates to the
        gates, sets the ``gates`` parameter to them (so a clone refits the same
        problem) and refits. With an exhaustive search this is an active-set
        method over patterns: it ends at the optimum of the whole network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Its targets.
        sample_weight : array-like of shape (n_samples,), default=None
            The weights of the samples, in the certificates and the refits.
        max_rounds : int, default=10
            Most refits.
        tol : float, default=None
            Target relative global gap; None uses the estimator's ``tol``.
        **search
            Passed to :meth:`certify_global`.

        Returns
        -------
        self : object
            The refitted estimator; ``global_certificate_`` holds the last
            certificate and ``n_refine_rounds_`` the refits done.
        """
        check_is_fitted(self)
        tol = self.tol if tol is None else tol
        certificate = self.certify_global(X, y, sample_weight=sample_weight, **search)
        rounds = 0
        while (
            rounds < max_rounds
            and certificate.relative_global_gap > tol
            and len(certificate.violating_gates)
        ):
            gates = np.concatenate([self.gates_, certificate.violating_gates])
            self.set_params(gates=gates).fit(X, y, sample_weight=sample_weight)
            certificate = self.certify_global(
                X, y, sample_weight=sample_weight, **search
            )
            rounds += 1
        self.global_certificate_ = certificate
        self.n_refine_rounds_ = rounds
        return self

    def _training_targets(self, X, y, sample_weight=None):
        """Validated ``X``, the targets encoded as in ``fit``, the loss, and
        the weights of the fit (``None`` without), the samples of weight zero
        left out."""
        from ..estimators._base import check_sample_weight, encode_labels, weigh_classes

        X, y = validate_data(
            self, X, y, reset=False, dtype=FLOAT_DTYPES, multi_output=True
        )
        weights = check_sample_weight(sample_weight, X)
        if not is_classifier(self):
            Y, loss = np.asarray(y, dtype=np.float64).reshape(len(y), -1), "squared"
        else:
            labels = np.searchsorted(self.classes_, y)
            labels = np.minimum(labels, len(self.classes_) - 1)
            if not np.array_equal(self.classes_[labels], np.asarray(y)):
                raise ValueError("y has labels the classifier was not fitted on.")
            weights = weigh_classes(self.class_weight, y, labels, weights)
            Y, loss = encode_labels(labels, len(self.classes_), self.loss_), self.loss_
        if weights is not None:
            keep = weights > 0
            X, Y, weights = X[keep], Y[keep], weights[keep]
        return X, Y, loss, weights

    def _global_objective(
        self, Z: np.ndarray, Y: np.ndarray, loss: str, sample_weight=None
    ) -> float:
        """The fit's objective at outputs ``Z``: (weighted) mean loss plus
        ``alpha`` × penalty.

        Gated ReLU: the nuclear or Frobenius norm of each block. Convex ReLU:
        the Euclidean norm of each output column of each ``v_i`` and ``w_i``,
        which is the weight decay of the converted network, whose outputs
        ``Z`` are.
        """
        import torch

        from ..problems import LOSSES

        data_loss = LOSSES[loss](torch.from_numpy(Y), sample_weight)
        value = data_loss.value(torch.from_numpy(Z))
        if self.coef_.ndim == 4:
            penalty = np.linalg.norm(self.coef_, axis=2).sum()
        elif getattr(self, "group_norm", "nuclear") == "nuclear":
            penalty = np.linalg.norm(self.coef_, ord="nuc", axis=(1, 2)).sum()
        else:
            penalty = np.linalg.norm(self.coef_, axis=(1, 2)).sum()
        return value + self.alpha * float(penalty)
