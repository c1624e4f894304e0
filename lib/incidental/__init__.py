"""incidental: the shared library of *Speed of lowering interference*.

The one home of every formula in the book: sampling, the loss and its three
forces, the gradient flow in weight and Gram space, the quantities of the
derivation, exact two-encoding solutions, numerical checks and widgets.
"""
from .checks import (Check, ExponentFit, assert_all, check_below, check_close, check_exponent,
                     checks_html, fit_exponent)
from .derivation import (expected_relative_norm_sq_rate, gram_schmidt_coefficient, gram_schmidt_norm_loss,
                         gram_rate_from_weights, interference_norm_share, kappa_rate,
                         kappa_rate_from_gram_rate, kappa_rate_from_weights, kappa_rate_first_order, norm_sq_rate,
                         numerator_first_order, numerator_rate, numerator_second_order)
from .exact import (feature_benefit_only, logistic_norm_sq, pair_interference, pair_interference_tau,
                    pair_push_total, regularization_only, symmetric_pair)
from .explore import Control, Explorable, Panel, figure
from .flow import (GramPhase, gram_rate, simulate, simulate_gram, simulate_gram_phase, simulate_gram_with_push,
                   soft_threshold)
from .model import (ALL_TERMS, cosine_similarity, force_components, forces, gram, interaction_matrix,
                    interference_weights, loss, offdiagonal, relu, sample_gram, sample_weights)

__all__ = [
    "ALL_TERMS", "Check", "Control", "Explorable", "ExponentFit", "Panel", "assert_all", "check_below",
    "check_close", "check_exponent", "checks_html", "cosine_similarity", "expected_relative_norm_sq_rate",
    "feature_benefit_only", "figure", "fit_exponent", "force_components", "forces", "gram", "gram_rate",
    "gram_rate_from_weights", "gram_schmidt_coefficient", "kappa_rate_from_gram_rate", "kappa_rate_from_weights", "gram_schmidt_norm_loss", "interaction_matrix", "interference_norm_share",
    "interference_weights", "kappa_rate", "kappa_rate_first_order", "logistic_norm_sq", "loss",
    "norm_sq_rate", "numerator_first_order", "numerator_rate", "numerator_second_order", "offdiagonal",
    "pair_interference", "pair_interference_tau", "pair_push_total", "regularization_only", "relu",
    "GramPhase", "sample_gram", "sample_weights", "simulate", "simulate_gram", "simulate_gram_phase",
    "simulate_gram_with_push",
    "soft_threshold", "symmetric_pair",
]
