//! One problem shown to the person: what happened, what the server said, what to do.

use leptos::prelude::*;

use crate::problem::Problem;

/// A problem as an alert, with its code in `data-code`.
#[component]
pub fn ProblemNotice(problem: Problem) -> impl IntoView {
    let Problem {
        code,
        summary,
        detail,
        advice,
    } = problem;
    view! {
        <div class="problem" role="alert" data-testid="error" data-code=code.name()>
            <p class="problem-summary">{summary}</p>
            {detail.map(|detail| view! { <p class="problem-detail">{detail}</p> })}
            {advice.map(|advice| view! { <p class="problem-advice">{advice}</p> })}
        </div>
    }
}
