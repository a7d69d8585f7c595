//! The settings of a piece: the variant, its length, whether the painting is read aloud before
//! its music, and the sampling settings under Advanced.

use ekphrasis_shared::api::Health;
use ekphrasis_shared::{Settings, Variant};
use leptos::ev;
use leptos::prelude::*;

use crate::form::{ComposeForm, field_label};
use crate::job::title_case;
use crate::models_notice::variant_available;
use crate::speech;

/// Reads one text field of the form.
type Read = fn(&ComposeForm) -> &String;
/// Writes one text field of the form.
type Write = fn(&mut ComposeForm, String);

/// The variant choice, the length slider, reading aloud and the advanced settings.
#[component]
pub fn Controls(
    form: RwSignal<ComposeForm>,
    health: Signal<Option<Health>>,
    read_aloud: RwSignal<bool>,
) -> impl IntoView {
    let seconds_min = Settings::SECONDS.start().to_string();
    let seconds_max = Settings::SECONDS.end().to_string();
    view! {
        <section class="card controls" aria-labelledby="controls-title">
            <h2 id="controls-title">"How to compose"</h2>
            <fieldset class="variants">
                <legend>"Variant"</legend>
                {Variant::ALL
                    .into_iter()
                    .map(|variant| {
                        let available = Signal::derive(move || {
                            health.with(|health| variant_available(health.as_ref(), variant))
                        });
                        view! { <VariantOption form=form variant=variant available=available /> }
                    })
                    .collect_view()}
            </fieldset>
            <div class="field">
                <label for="seconds">"Length"</label>
                <div class="slider-row">
                    <input
                        id="seconds"
                        type="range"
                        min=seconds_min
                        max=seconds_max
                        step="1"
                        prop:value=move || form.with(|form| form.seconds.to_string())
                        on:input=move |event: ev::Event| {
                            if let Ok(seconds) = event_target_value(&event).parse::<f32>() {
                                form.update(|form| form.seconds = seconds);
                            }
                        }
                    />
                    <output for="seconds">{move || format!("{} s", form.with(|form| form.seconds))}</output>
                </div>
            </div>
            <div class="field checkbox-field">
                <input
                    id="read-aloud"
                    type="checkbox"
                    data-testid="read-aloud"
                    disabled=!speech::available()
                    prop:checked=move || read_aloud.get()
                    on:change=move |event: ev::Event| read_aloud.set(event_target_checked(&event))
                />
                <label for="read-aloud">"Read the painting aloud before its music"</label>
                <p class="hint">
                    "Your browser speaks the emotion, the caption and the description, then the music plays."
                </p>
            </div>
            <details class="advanced">
                <summary>"Advanced"</summary>
                <div class="advanced-fields">
                    <NumberField
                        form=form
                        name="seed"
                        hint="Empty for a random seed; the same seed and settings give the same music."
                        placeholder="random"
                        step="1"
                        read=|form| &form.seed
                        write=|form, value| form.seed = value
                    />
                    <NumberField
                        form=form
                        name="top_k"
                        hint="How many of the likeliest sounds to choose among (1 to 2048)."
                        placeholder="250"
                        step="1"
                        read=|form| &form.top_k
                        write=|form, value| form.top_k = value
                    />
                    <NumberField
                        form=form
                        name="temperature"
                        hint="Higher is more adventurous (0.05 to 5)."
                        placeholder="1.0"
                        step="0.05"
                        read=|form| &form.temperature
                        write=|form, value| form.temperature = value
                    />
                    <NumberField
                        form=form
                        name="guidance"
                        hint="How closely the music follows the text (1 to 10)."
                        placeholder="3.0"
                        step="0.1"
                        read=|form| &form.guidance
                        write=|form, value| form.guidance = value
                    />
                </div>
            </details>
        </section>
    }
}

/// One variant as a radio option with its explanation.
#[component]
fn VariantOption(
    form: RwSignal<ComposeForm>,
    variant: Variant,
    available: Signal<bool>,
) -> impl IntoView {
    let id = format!("variant-{variant}");
    let label_for = id.clone();
    view! {
        <label class="variant" for=label_for class:unavailable=move || !available.get()>
            <input
                type="radio"
                name="variant"
                id=id
                value=variant.as_str()
                disabled=move || !available.get()
                prop:checked=move || form.with(|form| form.variant == variant)
                on:change=move |_| form.update(|form| form.variant = variant)
            />
            <span class="variant-text">
                <span class="variant-name">
                    {title_case(variant.as_str())}
                    {(variant == Variant::default())
                        .then(|| view! { <span class="tag">"default"</span> })}
                </span>
                <span class="variant-explanation">{variant.explanation()}</span>
                {move || {
                    (!available.get())
                        .then(|| {
                            view! {
                                <span class="variant-explanation unavailable-note">
                                    {if variant == Variant::Optimized {
                                        "Not on this server: it needs a fine-tuned composer."
                                    } else {
                                        "Not available on this server."
                                    }}
                                </span>
                            }
                        })
                }}
            </span>
        </label>
    }
}

/// A number field of the advanced settings, marked when its value cannot be sent.
#[component]
fn NumberField(
    form: RwSignal<ComposeForm>,
    /// The field's name on the wire.
    name: &'static str,
    hint: &'static str,
    placeholder: &'static str,
    step: &'static str,
    read: Read,
    write: Write,
) -> impl IntoView {
    let problem = Memo::new(move |_| {
        form.with(ComposeForm::problem)
            .filter(|problem| problem.field == name)
            .map(|problem| problem.message)
    });
    let id = format!("setting-{name}");
    let label_for = id.clone();
    let hint_id = format!("{id}-hint");
    let problem_id = format!("{id}-problem");
    let described_by = {
        let (hint_id, problem_id) = (hint_id.clone(), problem_id.clone());
        move || match problem.with(Option::is_some) {
            true => format!("{hint_id} {problem_id}"),
            false => hint_id.clone(),
        }
    };
    view! {
        <div class="field">
            <label for=label_for>{field_label(name).unwrap_or(name)}</label>
            <input
                id=id
                type="number"
                inputmode="decimal"
                step=step
                placeholder=placeholder
                aria-invalid=move || problem.with(Option::is_some).then_some("true")
                aria-describedby=described_by
                prop:value=move || form.with(|form| read(form).clone())
                on:input=move |event: ev::Event| {
                    let value = event_target_value(&event);
                    form.update(|form| write(form, value));
                }
            />
            <p class="hint" id=hint_id>{hint}</p>
            {move || {
                problem
                    .get()
                    .map(|message| {
                        view! { <p class="field-problem" id=problem_id.clone()>{message}</p> }
                    })
            }}
        </div>
    }
}
