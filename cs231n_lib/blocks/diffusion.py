"""Denoising diffusion (DDPM) on 2-D points and 8x8 digits: schedules, denoisers, samplers.

A schedule of T noise levels is a dict of torch tensors of shape (T,), indexed by the step
t = 0, ..., T - 1 (step t adds the noise of beta_t):
- "betas": beta_t, the variance each step adds;
- "alphas": alpha_t = 1 - beta_t;
- "alphas_cumprod": alphabar_t = alpha_0 alpha_1 ... alpha_t, so that
  x_t = sqrt(alphabar_t) x_start + sqrt(1 - alphabar_t) noise.

The notebook that teaches diffusion (12_generative/diffusion.ipynb) trains and samples with
the student's own functions, passed in as arguments:
- `q_sample(x_start, t, noise, schedule) -> x_t` (the forward process),
- `loss_fn(eps_model, x_start, t, noise, schedule) -> scalar` (the noise-prediction loss),
- `p_sample(eps_fn, x_t, t, schedule, noise) -> x_{t-1}` (one ancestral step),
where eps_fn(x_t, t) -> the predicted noise, with t a LongTensor (N,). The package has no
version of them: its own tests write theirs. `ddim_sample` (the deterministic sampler on a
subsequence of the steps) is given.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

EpsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
MAX_BETA = 0.999  # the cosine and sigmoid schedules' last betas would reach 1 (pure noise)


def _check_steps(num_steps) -> None:
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 2:
        raise ValueError(f"num_steps must be an int >= 2, got {num_steps!r}")


def linear_beta_schedule(num_steps: int) -> torch.Tensor:
    """DDPM's betas, linear from 1e-4 to 0.02 for 1,000 steps, scaled by 1000 / num_steps so
    that fewer steps reach about the same final noise level. (num_steps,) float64."""
    _check_steps(num_steps)
    scale = 1000.0 / num_steps
    return torch.linspace(scale * 1e-4, min(scale * 0.02, MAX_BETA), num_steps, dtype=torch.float64)


def _betas_from_alphabar(alphabar: torch.Tensor) -> torch.Tensor:
    """betas (T,) from alphabar on the T + 1 points t/T, t = 0..T (alphabar[0] = 1)."""
    return (1.0 - alphabar[1:] / alphabar[:-1]).clamp(0.0, MAX_BETA)


def cosine_beta_schedule(num_steps: int, s: float = 0.008) -> torch.Tensor:
    """Nichol and Dhariwal's schedule: alphabar(u) proportional to cos^2(pi/2 (u + s) / (1 + s))
    at u = t / T; the offset s keeps the first betas from being tiny. (num_steps,) float64."""
    _check_steps(num_steps)
    u = torch.linspace(0.0, 1.0, num_steps + 1, dtype=torch.float64)
    f = torch.cos((u + s) / (1.0 + s) * math.pi / 2) ** 2
    return _betas_from_alphabar(f / f[0])


def sigmoid_beta_schedule(
    num_steps: int, start: float = -3.0, end: float = 3.0, tau: float = 1.0
) -> torch.Tensor:
    """alphabar(u) falling along a sigmoid: 1 - sigmoid((start + u (end - start)) / tau),
    rescaled to run from 1 at u = 0 to 0 at u = 1 (Jabri et al., Chen). (num_steps,) float64."""
    _check_steps(num_steps)
    if not end > start or not tau > 0:
        raise ValueError(f"need end > start and tau > 0, got start={start}, end={end}, tau={tau}")
    u = torch.linspace(0.0, 1.0, num_steps + 1, dtype=torch.float64)
    low = torch.sigmoid(torch.tensor(start / tau, dtype=torch.float64))
    high = torch.sigmoid(torch.tensor(end / tau, dtype=torch.float64))
    f = (high - torch.sigmoid((start + u * (end - start)) / tau)) / (high - low)
    return _betas_from_alphabar(f)


SCHEDULES = {
    "linear": linear_beta_schedule,
    "cosine": cosine_beta_schedule,
    "sigmoid": sigmoid_beta_schedule,
}


def make_schedule(betas, dtype: torch.dtype = torch.float32) -> dict:
    """{"betas", "alphas", "alphas_cumprod"}: (T,) tensors of `dtype` from betas (T,) in (0, 1),
    the cumulative product computed in float64."""
    betas = torch.as_tensor(betas, dtype=torch.float64).reshape(-1)
    if len(betas) < 2 or not bool(((betas > 0) & (betas < 1)).all()):
        raise ValueError("betas must be (T,) with T >= 2 and every beta in (0, 1)")
    alphas = 1.0 - betas
    return {
        "betas": betas.to(dtype),
        "alphas": alphas.to(dtype),
        "alphas_cumprod": torch.cumprod(alphas, 0).to(dtype),
    }


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 1000.0) -> torch.Tensor:
    """Sinusoidal features (N, dim) of integer steps t (N,): sin and cos of t at dim / 2
    frequencies from 1 to 1 / max_period (a transformer's positional encoding)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    angles = t.float()[:, None] * freqs[None]  # (N, dim / 2)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class PointDenoiser(nn.Module):
    """An MLP eps_theta(x_t, t) for 2-D points: x_t (N, 2) and the step's sinusoidal
    embedding -> the predicted noise (N, 2)."""

    def __init__(self, hidden_dim: int = 128, embed_dim: int = 32, num_steps: int = 100):
        super().__init__()
        self.embed_dim, self.num_steps = embed_dim, num_steps
        self.net = nn.Sequential(
            nn.Linear(2 + embed_dim, hidden_dim),
            nn.SiLU(),
            nn.Linear(hidden_dim, hidden_dim),
            nn.SiLU(),
            nn.Linear(hidden_dim, hidden_dim),
            nn.SiLU(),
            nn.Linear(hidden_dim, 2),
        )

    def forward(self, x: torch.Tensor, t: torch.Tensor, y=None) -> torch.Tensor:
        # Steps scaled to 0..1000 whatever T is, so the frequencies suit every schedule length.
        emb = timestep_embedding(t * (1000.0 / self.num_steps), self.embed_dim)
        return self.net(torch.cat([x, emb], dim=1))


class _ResBlock(nn.Module):
    """Two 3x3 convolutions with GroupNorm and SiLU; the step-and-label embedding is added
    (one shift per channel) between them; a 1x1 convolution on the skip if channels change."""

    def __init__(self, in_channels: int, out_channels: int, embed_dim: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(8, in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.embed = nn.Linear(embed_dim, out_channels)
        self.norm2 = nn.GroupNorm(8, out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.skip = (
            nn.Identity()
            if in_channels == out_channels
            else nn.Conv2d(in_channels, out_channels, 1)
        )

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.embed(emb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class DigitUNet(nn.Module):
    """A small U-Net eps_theta(x_t, t, y) for 8x8 grey digits (N, 1, 8, 8): 8x8 with
    `channels` maps, down to 4x4 with 2 x channels, back up with a skip connection. The step
    t (N,) enters through a sinusoidal embedding; with num_classes > 0 the label y (N,) too,
    through a learnt embedding of num_classes + 1 labels, the last one (= num_classes) being
    the null label "no class" of classifier-free guidance. Output: the noise (N, 1, 8, 8)."""

    def __init__(self, channels: int = 32, num_classes: int = 10, num_steps: int = 200):
        super().__init__()
        if isinstance(channels, bool) or not isinstance(channels, int) or channels % 8:
            raise ValueError(f"channels must be an int multiple of 8, got {channels!r}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 0:
            raise ValueError(f"num_classes must be an int >= 0, got {num_classes!r}")
        self.num_classes, self.num_steps, self.embed_dim = num_classes, num_steps, 4 * channels
        c, e = channels, 4 * channels
        self.time_mlp = nn.Sequential(nn.Linear(c, e), nn.SiLU(), nn.Linear(e, e))
        self.label_embed = nn.Embedding(num_classes + 1, e) if num_classes else None
        self.stem = nn.Conv2d(1, c, 3, padding=1)
        self.down1 = _ResBlock(c, c, e)  # (N, c, 8, 8)
        self.pool = nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)  # (N, 2c, 4, 4)
        self.down2 = _ResBlock(2 * c, 2 * c, e)
        self.middle = _ResBlock(2 * c, 2 * c, e)
        self.upsample = nn.ConvTranspose2d(2 * c, c, 2, stride=2)  # (N, c, 8, 8)
        self.up1 = _ResBlock(2 * c, c, e)  # after the skip: 2c channels in
        self.head = nn.Sequential(nn.GroupNorm(8, c), nn.SiLU(), nn.Conv2d(c, 1, 3, padding=1))

    @property
    def null_label(self) -> int:
        return self.num_classes

    def forward(self, x: torch.Tensor, t: torch.Tensor, y=None) -> torch.Tensor:
        x = x.reshape(len(x), 1, 8, 8)
        emb = self.time_mlp(timestep_embedding(t * (1000.0 / self.num_steps), self.embed_dim // 4))
        if self.label_embed is not None:
            if y is None:
                y = torch.full((len(x),), self.null_label, device=x.device)
            emb = emb + self.label_embed(torch.as_tensor(y, device=x.device).long())
        elif y is not None:
            raise ValueError("this U-Net is unconditional (num_classes=0): pass no labels")
        h1 = self.down1(self.stem(x), emb)
        h = self.middle(self.down2(self.pool(h1), emb), emb)
        h = self.up1(torch.cat([self.upsample(h), h1], dim=1), emb)
        return self.head(h)


def train_denoiser(
    model: nn.Module,
    X,
    schedule: dict,
    loss_fn: Callable,
    y=None,
    label_dropout: float = 0.0,
    num_steps: int = 1000,
    batch_size: int = 128,
    learning_rate: float = 2e-3,
    ema_decay: float | None = 0.995,
    seed: int = 0,
    desc: str | None = None,
    progress: bool = True,
) -> dict:
    """Train the noise predictor `model(x_t, t, y)` on data X (N, ...) (labels y (N,) for a
    conditional model) for `num_steps` Adam steps: each draws a batch, a step t uniform in
    0..T-1 and noise ~ N(0, I) per item, and minimizes
    loss_fn(eps_model, x_start, t, noise, schedule) with eps_model(x_t, t) = model(x_t, t, y).
    With label_dropout p, each label is replaced by the null label model.null_label with
    probability p (classifier-free guidance's unconditional model). The learning rate falls
    along a cosine to 0; with ema_decay the model ends with an exponential moving average of
    its weights (smoother samples; the decay warms up as min(ema_decay, (1 + step) /
    (10 + step))). Randomness is drawn from generators seeded by `seed`.
    Returns {"loss": per-step loss, "steps", "seconds"}.
    """
    from tqdm.auto import tqdm

    if not 0.0 <= label_dropout < 1.0:
        raise ValueError(f"label_dropout must be in [0, 1), got {label_dropout!r}")
    device = next(model.parameters()).device
    X = torch.as_tensor(np.asarray(X, dtype=np.float32)).to(device)
    y = None if y is None else torch.as_tensor(np.asarray(y)).long().to(device)
    if label_dropout and y is None:
        raise ValueError("label_dropout needs labels y")
    schedule = {k: v.to(device) for k, v in schedule.items()}
    T = len(schedule["betas"])
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    lr_schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(num_steps, 1))
    ema = (
        None
        if ema_decay is None
        else {k: v.detach().clone() for k, v in model.state_dict().items()}
    )
    generator = torch.Generator().manual_seed(seed)
    history: dict = {"loss": [], "steps": num_steps}
    start_time = time.perf_counter()
    model.train()
    for step in tqdm(range(num_steps), desc=desc or "denoiser", leave=False, disable=not progress):
        batch = torch.randint(0, len(X), (batch_size,), generator=generator).to(device)
        x_start = X[batch]
        t = torch.randint(0, T, (batch_size,), generator=generator).to(device)
        noise = torch.randn(x_start.shape, generator=generator).to(device)
        labels = None
        if y is not None:
            labels = y[batch]
            if label_dropout:
                drop = (torch.rand(batch_size, generator=generator) < label_dropout).to(device)
                labels = torch.where(drop, torch.full_like(labels, model.null_label), labels)

        def eps_model(x_t, t_, labels=labels):
            return model(x_t, t_, labels)

        loss = loss_fn(eps_model, x_start, t, noise, schedule)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        lr_schedule.step()
        history["loss"].append(float(loss.detach()))
        if ema is not None:
            # NOTE: a warm-up of the decay, so that short runs do not average in the random
            # initial weights (0.995^300 would still give them a weight of 0.22).
            decay = min(ema_decay, (1 + step) / (10 + step))
            with torch.no_grad():
                for k, v in model.state_dict().items():
                    if v.dtype.is_floating_point:
                        ema[k].mul_(decay).add_(v.detach(), alpha=1 - decay)
                    else:
                        ema[k].copy_(v)
    if ema is not None:
        model.load_state_dict(ema)
    model.eval()
    history["seconds"] = time.perf_counter() - start_time
    return history


def _start_noise(shape, seed, device) -> tuple[torch.Tensor, torch.Generator]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(tuple(shape), generator=generator).to(device), generator


def sample_ancestral(
    p_sample: Callable,
    eps_fn: EpsFn,
    shape,
    schedule: dict,
    seed: int = 0,
    device="cpu",
    progress: bool = False,
    return_path: bool = False,
):
    """DDPM's sampler: x_{T-1} ~ N(0, I), then x_{t-1} = p_sample(eps_fn, x_t, t, schedule,
    noise) for t = T-1, ..., 0, with noise ~ N(0, I) drawn from a generator seeded by `seed`
    (the step t = 0 should add none). T network evaluations. Returns x_{-1}, the sample,
    of `shape`; with return_path also the list of x_t after each step."""
    from tqdm.auto import tqdm

    schedule = {k: v.to(device) for k, v in schedule.items()}
    T = len(schedule["betas"])
    x, generator = _start_noise(shape, seed, device)
    path = []
    with torch.no_grad():
        for t in tqdm(range(T - 1, -1, -1), desc="ancestral", leave=False, disable=not progress):
            noise = torch.randn(tuple(shape), generator=generator).to(device)
            x = p_sample(eps_fn, x, t, schedule, noise)
            if return_path:
                path.append(x.clone())
    return (x, path) if return_path else x


def ddim_timesteps(num_steps: int, num_sample_steps: int) -> list[int]:
    """num_sample_steps steps of 0..num_steps-1 spread evenly, from the last down to 0."""
    if not 1 <= num_sample_steps <= num_steps:
        raise ValueError(f"num_sample_steps must be in 1..{num_steps}, got {num_sample_steps!r}")
    return sorted({round(v) for v in np.linspace(0, num_steps - 1, num_sample_steps)}, reverse=True)


def ddim_sample(
    eps_fn: EpsFn,
    shape,
    schedule: dict,
    num_sample_steps: int = 50,
    seed: int = 0,
    device="cpu",
    clip: float | None = 1.0,
    progress: bool = False,
) -> torch.Tensor:
    """DDIM's deterministic sampler (eta = 0, Song et al.) on num_sample_steps of the T steps:
    from x ~ N(0, I) at t = T-1, at each step t -> s (the next smaller one, or -1: the end)
    predict eps = eps_fn(x, t), x0 = (x - sqrt(1 - alphabar_t) eps) / sqrt(alphabar_t)
    (clipped to [-clip, clip] when clip is set: the data's range), then
    x = sqrt(alphabar_s) x0 + sqrt(1 - alphabar_s) eps, with alphabar_{-1} = 1.
    num_sample_steps network evaluations; the start noise is drawn with `seed`."""
    from tqdm.auto import tqdm

    schedule = {k: v.to(device) for k, v in schedule.items()}
    alphabar = schedule["alphas_cumprod"]
    steps = ddim_timesteps(len(alphabar), num_sample_steps)
    x, _ = _start_noise(shape, seed, device)
    with torch.no_grad():
        for i, t in enumerate(tqdm(steps, desc="DDIM", leave=False, disable=not progress)):
            a_t = alphabar[t]
            a_s = alphabar[steps[i + 1]] if i + 1 < len(steps) else torch.ones_like(a_t)
            eps = eps_fn(x, torch.full((shape[0],), t, dtype=torch.long, device=device))
            x0 = (x - torch.sqrt(1 - a_t) * eps) / torch.sqrt(a_t)
            if clip is not None:
                x0 = x0.clamp(-clip, clip)
                eps = (x - torch.sqrt(a_t) * x0) / torch.sqrt(1 - a_t)
            x = torch.sqrt(a_s) * x0 + torch.sqrt(1 - a_s) * eps
    return x


__all__ = [
    "SCHEDULES",
    "DigitUNet",
    "PointDenoiser",
    "cosine_beta_schedule",
    "ddim_sample",
    "ddim_timesteps",
    "linear_beta_schedule",
    "make_schedule",
    "sample_ancestral",
    "sigmoid_beta_schedule",
    "timestep_embedding",
    "train_denoiser",
]
