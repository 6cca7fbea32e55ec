"""Pure. The words of every health prompt: titles, messages, exercise steps, the disclaimer.

The facts and numbers follow the project's domain brief (docs on lower-back pain after
running); the sentences are our own. Nothing here goes beyond those facts: no doses, no
volumes, no diagnoses. The engine decides *when*; this module only says *what*.
"""

from __future__ import annotations

from dataclasses import dataclass

from treadwell.rules.model import Step

__all__ = [
    "BUTT_KICKS",
    "DISCLAIMER",
    "FIGURE_FOUR",
    "HIP_CARS",
    "HIP_FLEXOR_STRETCH",
    "LEG_SWINGS",
    "POSTURE_DRILL",
    "PromptText",
    "checkin",
    "form_cue",
    "hydration",
    "hydration_reminder",
    "incline",
    "see_physio",
    "stop_running",
    "stretch",
    "warmup",
]

DISCLAIMER = (
    "General information only, not medical advice. It cannot judge your situation: if you "
    "are unsure or the pain worries you, ask a doctor or physical therapist."
)

LEG_SWINGS = Step("Leg swings", seconds=20, per_side=True)
BUTT_KICKS = Step("Butt kicks", seconds=30)
HIP_CARS = Step("Hip CARs (controlled hip circles)", reps="3-5 circles", per_side=True)
FIGURE_FOUR = Step("Figure-4 glute stretch", seconds=30, per_side=True)
HIP_FLEXOR_STRETCH = Step("Static hip-flexor stretch", per_side=True)
POSTURE_DRILL = Step("Posture drill: hand on chest, hand on belly button, lean the chest forward")

# Runs up to this long get the short hydration wording; up to twice it, the middle one.
SHORT_RUN_S = 20 * 60


@dataclass(frozen=True, slots=True)
class PromptText:
    """The human part of a prompt: what it says and which exercises it lists."""

    title: str
    message: str
    steps: tuple[Step, ...] = ()


def warmup() -> PromptText:
    """Dynamic warm-up before the run: movements that resemble running and loosen up."""
    return PromptText(
        "Warm up your hips first",
        "Before you settle into the run, spend two or three minutes on moving stretches. "
        "Leg swings: feet hip-width, hands on your pelvis, swing one leg forward and back "
        "for about 20 seconds while the pelvis stays still, as if balancing a full bowl on "
        "it, then change legs. Butt kicks: small hops from foot to foot, heel up towards "
        "the glutes, for 20-30 seconds, keeping the front of the hips long instead of "
        "arching your back. Hip CARs: on hands and knees, draw a slow circle with one "
        "knee (to the chest with a rounded back, out to the side with the shin level, round "
        "behind with the foot up), spine neutral, 3-5 circles per side.",
        (LEG_SWINGS, BUTT_KICKS, HIP_CARS),
    )


def incline(incline_pct: float, *, automated: bool) -> PromptText:
    """The incline suggestion; `automated` when the engine is also setting it."""
    how = (
        "Treadwell is raising it for you; change it yourself whenever you like and it will "
        "leave it alone for the rest of the run."
        if automated
        else "Raise it on the console when it suits you."
    )
    return PromptText(
        f"Try a {incline_pct:g}% incline",
        f"With your back flagged as achy, a 2-3% incline makes it easier to keep your upper "
        f"body stacked over your hips, and for some runners that alone keeps the back "
        f"quiet. Suggested: {incline_pct:g}%. {how} Your speed is not changed.",
    )


def form_cue(*, heart_rate_drift: bool) -> PromptText:
    """A posture reminder late in a run, when tiredness tends to pull form apart."""
    why = (
        "Your heart rate is creeping up while the pace stays the same: a sign you are tiring."
        if heart_rate_drift
        else "Past roughly 3 km many runners start losing their neutral spine as they tire."
    )
    return PromptText(
        "Check your posture",
        f"{why} Run tall without flaring the ribs: put one hand on your chest and one on "
        "your belly button, let the chest drop forward until your weight is shared between "
        "heels and forefoot, and keep that torso position. Drive the legs from the hips, not "
        "the lower back. If form keeps slipping late in runs, core work will help.",
        (POSTURE_DRILL,),
    )


def hydration(duration_s: float) -> PromptText:
    """Drink after the run; the wording grows with the run's length, never a volume."""
    if duration_s <= SHORT_RUN_S:
        amount = "A glass of water now is a good start."
    elif duration_s <= 2 * SHORT_RUN_S:
        amount = "Have a couple of glasses of water over the next little while."
    else:
        amount = (
            "That was a long one: drink a couple of glasses now and keep sipping over the "
            "next hours."
        )
    return PromptText(
        "Time to drink",
        f"{amount} The discs in your spine stay springier when you are well hydrated, and "
        "a sweaty run leaves you short.",
    )


def hydration_reminder() -> PromptText:
    """The later reminder to keep drinking."""
    return PromptText(
        "Another glass of water?",
        "A little while after a run is a good time to top up fluids again; well-hydrated "
        "discs cushion the spine better.",
    )


def stretch() -> PromptText:
    """Static stretches after the run, to lengthen tight glutes and hip flexors."""
    return PromptText(
        "Stretch before you sit down",
        "Tight glutes and hip flexors pull on the lower back, more so when stretching gets "
        "skipped. Figure-4 glute stretch: sit with knees bent and hands on the floor behind "
        "you, cross one ankle over the other thigh and ease that knee away from your chest "
        "until the glute stretches; hold 20-30 seconds, then the other side. Add a gentle, "
        "held stretch for the front of each hip. Foam rolling and core stability work help "
        "too.",
        (FIGURE_FOUR, HIP_FLEXOR_STRETCH),
    )


def checkin() -> PromptText:
    """The question asked some time after a run."""
    return PromptText(
        "How is your back?",
        "How does your lower back feel since the run? Rate it from 0 (fine) to 10 and say "
        "what kind it is: none, ache or stiffness, sharp, running down the leg, or at night.",
    )


def see_physio(painful_runs: int, window_runs: int) -> PromptText:
    """Recurring pain after runs: see a physical therapist early."""
    return PromptText(
        "Consider seeing a physical therapist",
        f"You reported back pain after {painful_runs} of your last {window_runs} runs. Pain "
        "after one run that fades is usually nothing; pain that keeps coming back is a "
        "signal something is off, and left alone it can turn into everyday pain. A physical "
        "therapist can find the cause early; often you can keep running meanwhile.",
    )


def stop_running(*, from_checkin: bool) -> PromptText:
    """Red-flag pain: stop, and see a healthcare provider before running again."""
    why = (
        "You reported pain that is sharp, runs down your leg, or comes at night."
        if from_checkin
        else "Your back is flagged for sharp, radiating or night pain."
    )
    return PromptText(
        "Stop running and get your back checked",
        f"{why} That kind of pain can come from a bone or nerve problem. Stop running and "
        "see a healthcare provider before you run again.",
    )
