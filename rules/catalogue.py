"""Pure. The words of every health prompt: titles, messages, exercise steps, the disclaimer.

The facts and numbers follow the project's domain notes on lower-back pain after running; the
sentences are our own. Nothing here goes beyond those facts: no doses, no volumes, no
diagnoses. The engine decides *when*; this module only says *what*.
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
    "get_checked",
    "hydration",
    "hydration_reminder",
    "incline",
    "see_physio",
    "shoes",
    "stop_running",
    "stretch",
    "stride",
    "warmup",
]

DISCLAIMER = (
    "General information only, not medical advice. It cannot judge your situation: if you "
    "are unsure or the pain worries you, ask a doctor or physical therapist."
)

LEG_SWINGS = Step(
    "Leg swings",
    seconds=20,
    per_side=True,
    how="Feet hip-width, hands on your pelvis. Stand on one leg and swing the other forward "
    "and back while the pelvis stays still, as if it carried a full bowl of cereal.",
)
BUTT_KICKS = Step(
    "Butt kicks",
    seconds=20,
    max_seconds=30,
    how="Feet hip-width. Small hops from one foot to the other, the free heel coming up "
    "towards the glutes; keep the front of the hips long rather than arching the back.",
)
HIP_CARS = Step(
    "Hip CARs (controlled hip circles)",
    reps="3-5 circles",
    per_side=True,
    how="On the floor, on hands and knees. Bring one knee to the chest while rounding the "
    "back, return to neutral, take the knee out to the side with the shin level with the "
    "floor, then round behind with the foot up and the knee pointing back. Spine neutral "
    "throughout.",
)
FIGURE_FOUR = Step(
    "Figure-4 glute stretch",
    seconds=20,
    max_seconds=30,
    per_side=True,
    how="Sit with knees bent and hands on the floor behind you. Cross one ankle over the "
    "other thigh and ease that knee away from your chest until the glute stretches.",
)
HIP_FLEXOR_STRETCH = Step(
    "Kneeling hip-flexor stretch",
    seconds=20,
    max_seconds=30,
    per_side=True,
    how="Kneel on one knee with the other foot flat in front. Tuck the pelvis under and ease "
    "the hips forward until the front of the kneeling side's hip stretches; keep the lower "
    "back from arching.",
)
POSTURE_DRILL = Step(
    "Posture drill",
    how="One hand on your chest, one on your belly button; let the chest drop forward until "
    "your weight is shared evenly between heels and forefoot, and hold that torso position.",
)

# Runs up to this long get the short hydration wording.
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
        "Warm up your hips before you run",
        "Before the belt starts, spend a few minutes on moving stretches; they resemble "
        "running and loosen the soft tissue. Leg swings: feet hip-width, hands on your "
        "pelvis, swing one leg forward and back for about 20 seconds while the pelvis stays "
        "still, as if balancing a full bowl on it, then change legs. Butt kicks: small hops "
        "from foot to foot, heel up towards the glutes, for 20-30 seconds, keeping the front "
        "of the hips long instead of arching your back. Hip CARs, on the floor on hands and "
        "knees: draw a slow circle with one knee (to the chest with a rounded back, out to "
        "the side with the shin level, round behind with the foot up), spine neutral, 3-5 "
        "circles per side.",
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
        "Your heart rate has crept up while pace and incline stayed the same: a sign you are "
        "tiring, and tired runners tend to lose their posture."
        if heart_rate_drift
        else "Past roughly 3 km many runners start losing their neutral spine as they tire."
    )
    return PromptText(
        "Check your posture",
        f"{why} Do not pull the chest up and back: that flares the ribs and arches the lower "
        "back. Instead, put one hand on your chest and one on your belly button, let the "
        "chest drop forward until your weight is shared between heels and forefoot, and keep "
        "that torso position. Drive the legs from the hips, not the lower back. If form "
        "keeps slipping late in runs, that is a sign to train your core.",
        (POSTURE_DRILL,),
    )


def hydration(duration_s: float) -> PromptText:
    """Drink after the run: about staying hydrated day to day, never a volume."""
    now = (
        "Refill what you sweated out."
        if duration_s <= SHORT_RUN_S
        else "A longer run leaves you shorter of fluid: drink now and keep sipping over the "
        "next hours."
    )
    return PromptText(
        "Time to drink",
        f"{now} What counts for your back is not one glass but staying well hydrated day to "
        "day: discs that are chronically short of fluid are less springy, the spine takes "
        "more compression, and after a sweaty run you may feel it.",
    )


def hydration_reminder() -> PromptText:
    """The later reminder to keep drinking."""
    return PromptText(
        "Keep your fluids up",
        "A while after the run is a good moment to drink again. Staying hydrated through "
        "the day keeps the discs in your spine springier than running chronically low does.",
    )


def stretch() -> PromptText:
    """Static stretches after the run, to lengthen tight glutes and hip flexors."""
    return PromptText(
        "Stretch before you sit down",
        "Tight glutes and hip flexors pull on the lower back, more so when stretching gets "
        "skipped. Figure-4 glute stretch: sit with knees bent and hands on the floor behind "
        "you, cross one ankle over the other thigh and ease that knee away from your chest "
        "until the glute stretches; hold 20-30 seconds, then the other side. Kneeling "
        "hip-flexor stretch: one knee down, the other foot in front, tuck the pelvis under "
        "and ease forward until the front of the hip stretches, without arching the back; "
        "hold about as long, each side. Foam rolling and core stability work help too.",
        (FIGURE_FOUR, HIP_FLEXOR_STRETCH),
    )


def checkin() -> PromptText:
    """The question asked some time after a run."""
    return PromptText(
        "How is your back?",
        "How does your lower back feel since the run? Rate it from 0 (fine) to 10 and say "
        "what kind it is: none, ache or stiffness, sharp, running down the leg, or at night "
        "(name more than one if more fit).",
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


def get_checked(*, from_checkin: bool) -> PromptText:
    """A red flag short of "stop": have it checked soon; running is not forbidden."""
    why = (
        "You reported pain that is sharp, shoots down your leg, or comes at night."
        if from_checkin
        else "Your back is flagged for sharp, shooting or night pain."
    )
    return PromptText(
        "Have your back checked soon",
        f"{why} That kind of pain can come from a bone or nerve problem, so have a healthcare "
        "provider look at it soon rather than waiting. Most runners can keep running "
        "meanwhile; Treadwell leaves your incline alone. If the pain turns sharp and severe "
        "and travels down your leg, stop running until you have been seen.",
    )


def stop_running(*, from_checkin: bool) -> PromptText:
    """Severe, sharp pain down the leg: stop, and see a healthcare provider before running."""
    why = (
        "You reported sharp, severe pain that travels down your leg."
        if from_checkin
        else "Your back is flagged for sharp, severe pain travelling down the leg."
    )
    return PromptText(
        "Stop running and get your back checked",
        f"{why} That can come from a bone or nerve problem. Stop running and see a healthcare "
        "provider before you run again.",
    )


def stride(cadence_spm: float, speed_kmh: float) -> PromptText:
    """Long, slow steps at running speed: the foot probably lands far in front."""
    return PromptText(
        "Shorter, quicker steps",
        f"You are taking about {cadence_spm:.0f} steps a minute at {speed_kmh:g} km/h: long, "
        "slow steps. That usually means overstriding, the foot landing well in front of your "
        "body, often heel first, and the impact travels up to the lower back. Let your feet "
        "land closer under your hips with quicker, shorter steps.",
    )


def shoes() -> PromptText:
    """After a run with persistent overstriding: a word on shoes."""
    return PromptText(
        "A note on your shoes",
        "Long, slow steps showed up for much of this run. Very cushioned shoes with a high "
        "heel-to-toe drop can encourage landing far in front of the body. If yours are like "
        "that, a pair with less cushioning and a lower drop may help; change over gradually, "
        "not from one run to the next.",
    )
