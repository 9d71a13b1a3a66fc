"""Variational autoencoders on flattened 8x8 digits: an MLP VAE and its conditional twin.

The encoder maps an image x (N, D) (and, for the conditional VAE, its label one-hot) to
the mean mu (N, Z) and the log-variance logvar = log sigma^2 (N, Z) of a diagonal
Gaussian q(z | x); the decoder maps a latent z (N, Z) (and the label) to Bernoulli
probabilities x_hat (N, D) of every pixel being on.

The notebook that teaches VAEs (12_generative/vae.ipynb) trains these models with the
student's own reparameterization and loss, so `train_vae` and `evaluate_vae` take them as
arguments: `sample_latent(mu, logvar) -> z` and `loss_fn(x_hat, x, mu, logvar) -> the
negative ELBO averaged over the batch`. `sample_gaussian` and `negative_elbo` are the
package's own versions, for later notebooks that compare with a VAE.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SampleLatent = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


class VAE(nn.Module):
    """An MLP VAE; with num_classes > 0 a conditional VAE whose encoder and decoder both
    read the label as a one-hot vector concatenated to their input.

    Inputs: input_dim D (64 for 8x8 digits), hidden_dim H of the two hidden layers of the
    encoder and of the decoder, latent_dim Z, num_classes (0: unconditional).
    """

    def __init__(
        self, input_dim: int = 64, hidden_dim: int = 256, latent_dim: int = 16, num_classes: int = 0
    ):
        super().__init__()
        for name, value in [
            ("input_dim", input_dim),
            ("hidden_dim", hidden_dim),
            ("latent_dim", latent_dim),
        ]:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 0:
            raise ValueError(f"num_classes must be an int >= 0, got {num_classes!r}")
        self.input_dim, self.latent_dim, self.num_classes = input_dim, latent_dim, num_classes
        self.encoder = nn.Sequential(
            nn.Linear(input_dim + num_classes, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, hidden_dim),
            nn.ReLU(),
        )
        self.mu_head = nn.Linear(hidden_dim, latent_dim)
        self.logvar_head = nn.Linear(hidden_dim, latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim + num_classes, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, input_dim),
        )

    def _with_label(self, h: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if self.num_classes == 0:
            if y is not None:
                raise ValueError("this VAE is unconditional (num_classes=0): pass no labels")
            return h
        if y is None:
            raise ValueError(
                f"this conditional VAE needs labels y (N,) in 0..{self.num_classes - 1}"
            )
        y = torch.as_tensor(y, device=h.device).long()
        if y.shape != (len(h),):
            raise ValueError(f"labels must have shape ({len(h)},), got {tuple(y.shape)}")
        return torch.cat([h, F.one_hot(y, self.num_classes).to(h.dtype)], dim=1)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None):
        """x (N, D) -> (mu (N, Z), logvar (N, Z)), the parameters of q(z | x)."""
        hidden = self.encoder(self._with_label(x.reshape(len(x), -1), y))
        return self.mu_head(hidden), self.logvar_head(hidden)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """z (N, Z) -> x_hat (N, D), the probabilities of p(x | z), in (0, 1)."""
        return torch.sigmoid(self.decoder(self._with_label(z, y)))

    def forward(self, x: torch.Tensor, sample_latent: SampleLatent, y: torch.Tensor | None = None):
        """x (N, D) -> (x_hat (N, D), mu (N, Z), logvar (N, Z)), z = sample_latent(mu, logvar)."""
        mu, logvar = self.encode(x, y)
        return self.decode(sample_latent(mu, logvar), y), mu, logvar


def sample_gaussian(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """z = mu + sigma * eps with eps ~ N(0, I) and sigma = exp(logvar / 2): differentiable in
    mu and logvar (the reparameterization)."""
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


def negative_elbo(
    x_hat: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
) -> torch.Tensor:
    """The negative ELBO in nats per image: the Bernoulli cross-entropy summed over the D
    pixels plus KL(q(z | x) || N(0, I)) summed over the Z latent dimensions, averaged over
    the N images."""
    reconstruction = F.binary_cross_entropy(x_hat, x.reshape(x_hat.shape), reduction="sum")
    kl = 0.5 * torch.sum(mu**2 + torch.exp(logvar) - 1.0 - logvar)
    return (reconstruction + kl) / len(x)


def _as_tensor(X, device) -> torch.Tensor:
    X = torch.as_tensor(np.asarray(X, dtype=np.float32) if not torch.is_tensor(X) else X)
    return X.to(device=device, dtype=torch.float32).reshape(len(X), -1)


def evaluate_vae(
    model: VAE,
    X,
    sample_latent: SampleLatent = sample_gaussian,
    loss_fn: LossFn = negative_elbo,
    y=None,
    num_samples: int = 10,
    seed: int = 0,
    batch_size: int = 500,
) -> float:
    """The negative ELBO of `model` on images X (N, D) (labels y (N,) for a conditional
    VAE), in nats per image: loss_fn averaged over the images and over `num_samples` draws
    of z per image, with torch's generator seeded by `seed` (and restored afterwards)."""
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive int, got {num_samples!r}")
    device = next(model.parameters()).device
    X = _as_tensor(X, device)
    y = None if y is None else torch.as_tensor(np.asarray(y), device=device).long()
    was_training = model.training
    model.eval()
    total = 0.0
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for _ in range(num_samples):
            for start in range(0, len(X), batch_size):
                xb = X[start : start + batch_size]
                yb = None if y is None else y[start : start + batch_size]
                x_hat, mu, logvar = model(xb, sample_latent, yb)
                total += float(loss_fn(x_hat, xb, mu, logvar)) * len(xb)
    model.train(was_training)
    return total / (num_samples * len(X))


def importance_nll(
    model: VAE, X, y=None, num_samples: int = 200, seed: int = 0, batch_size: int = 100
) -> float:
    """An estimate of -log p(x) in nats per image by importance sampling with the encoder:
    -log (1/K sum_k p(x | z_k) p(z_k) / q(z_k | x)), z_k ~ q(z | x), K = num_samples
    (the IWAE bound of Burda et al.; K = 1 is the ELBO, and it tightens as K grows).
    torch's generator is seeded by `seed` and restored afterwards."""
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive int, got {num_samples!r}")
    device = next(model.parameters()).device
    X = _as_tensor(X, device)
    y = None if y is None else torch.as_tensor(np.asarray(y), device=device).long()
    half_log_2pi = 0.5 * float(np.log(2 * np.pi))
    total = 0.0
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for start in range(0, len(X), batch_size):
            xb = X[start : start + batch_size]  # (B, D)
            yb = None if y is None else y[start : start + batch_size]
            mu, logvar = model.encode(xb, yb)  # (B, Z)
            eps = torch.randn(num_samples, *mu.shape, device=device)  # (K, B, Z)
            z = mu + torch.exp(0.5 * logvar) * eps
            log_q = (-0.5 * eps**2 - 0.5 * logvar - half_log_2pi).sum(-1)  # (K, B)
            log_prior = (-0.5 * z**2 - half_log_2pi).sum(-1)
            flat = z.reshape(-1, model.latent_dim)
            labels = None if yb is None else yb.repeat(num_samples)
            logits = model.decoder(model._with_label(flat, labels)).reshape(
                num_samples, len(xb), -1
            )
            log_likelihood = -F.binary_cross_entropy_with_logits(
                logits, xb.expand_as(logits), reduction="none"
            ).sum(-1)
            log_w = log_likelihood + log_prior - log_q  # (K, B)
            log_px = torch.logsumexp(log_w, dim=0) - float(np.log(num_samples))
            total -= float(log_px.sum())
    return total / len(X)


def train_vae(
    model: VAE,
    X,
    sample_latent: SampleLatent = sample_gaussian,
    loss_fn: LossFn = negative_elbo,
    y=None,
    X_val=None,
    y_val=None,
    num_epochs: int = 100,
    batch_size: int = 64,
    learning_rate: float = 2e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
    desc: str | None = None,
    progress: bool = True,
) -> dict:
    """Train `model` on images X (N, D) in [0, 1] (labels y for a conditional VAE) with
    Adam(W) on loss_fn(x_hat, x, mu, logvar), z drawn by sample_latent; batches drawn in
    an order seeded by `seed`.

    With X_val, the validation negative ELBO (evaluate_vae, 1 draw) is measured after every
    epoch and the model ends with the weights of the best epoch (early stopping).
    Returns {"loss": per-epoch mean training loss, "val": per-epoch validation loss (or
    empty), "best_epoch", "epochs", "steps", "seconds"}.
    """
    from tqdm.auto import tqdm

    device = next(model.parameters()).device
    X = _as_tensor(X, device)
    y = None if y is None else torch.as_tensor(np.asarray(y), device=device).long()
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    history: dict = {"loss": [], "val": [], "best_epoch": None, "steps": 0}
    best, best_state = float("inf"), None
    start_time = time.perf_counter()
    epochs = tqdm(range(num_epochs), desc=desc or "VAE", leave=False, disable=not progress)
    for epoch in epochs:
        model.train()
        order = torch.randperm(len(X), generator=generator).to(device)
        total = 0.0
        for start in range(0, len(X), batch_size):
            batch = order[start : start + batch_size]
            xb = X[batch]
            x_hat, mu, logvar = model(xb, sample_latent, None if y is None else y[batch])
            loss = loss_fn(x_hat, xb, mu, logvar)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
            history["steps"] += 1
        history["loss"].append(total / len(X))
        if X_val is not None:
            val = evaluate_vae(
                model, X_val, sample_latent, loss_fn, y_val, num_samples=1, seed=seed + epoch
            )
            history["val"].append(val)
            if val < best:
                best, best_state = val, copy.deepcopy(model.state_dict())
                history["best_epoch"] = epoch
            epochs.set_postfix(train=f"{history['loss'][-1]:.1f}", val=f"{val:.1f}")
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    history["epochs"] = num_epochs
    history["seconds"] = time.perf_counter() - start_time
    return history


def latent_means(model: VAE, X, y=None, batch_size: int = 500) -> np.ndarray:
    """mu of q(z | x) for images X (N, D): (N, Z) numpy float64."""
    device = next(model.parameters()).device
    X = _as_tensor(X, device)
    y = None if y is None else torch.as_tensor(np.asarray(y), device=device).long()
    out = []
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            yb = None if y is None else y[start : start + batch_size]
            out.append(model.encode(X[start : start + batch_size], yb)[0].double().cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, model.latent_dim))


def decode_latents(model: VAE, z, y=None) -> np.ndarray:
    """Decoded probabilities (N, D) numpy float64 of latents z (N, Z) (labels y (N,))."""
    device = next(model.parameters()).device
    z = torch.as_tensor(np.asarray(z, dtype=np.float32), device=device).reshape(
        -1, model.latent_dim
    )
    y = None if y is None else torch.as_tensor(np.asarray(y), device=device).long()
    with torch.no_grad():
        return model.decode(z, y).double().cpu().numpy()


def generate(model: VAE, num_samples: int, y=None, seed: int = 0) -> np.ndarray:
    """Decoded probabilities (num_samples, D) of z ~ N(0, I) drawn with `seed`."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(num_samples, model.latent_dim, generator=generator)
    return decode_latents(model, z.numpy(), y)


__all__ = [
    "VAE",
    "decode_latents",
    "evaluate_vae",
    "generate",
    "importance_nll",
    "latent_means",
    "negative_elbo",
    "sample_gaussian",
    "train_vae",
]
