//! The dashboard's pages as plain functions from what the store read to markup, so what a
//! merchant sees is tested without HTTP. Every value from the database goes through
//! [`esc`] or one of the formatters of `html`.

use super::html::{Header, current_if, day, esc, money, percent, time};
use crate::payments::Status;
use crate::store::PaymentRecord;
use crate::store::RefundRow;
use crate::store::dashboard::{PaymentLine, RefundLine, Summary};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The periods the overview offers, in days.
pub const PERIODS: [i64; 3] = [7, 30, 90];

/// The sign-in form, with `problem` said above it when the last attempt failed.
pub fn sign_in(problem: Option<&str>) -> String {
    let mut main = String::from(
        "<section class=\"sign-in\"><p class=\"brand\">Payframe</p><h1>Sign in to your dashboard</h1>",
    );
    if let Some(problem) = problem {
        let _ = write!(
            main,
            "<p class=\"problem\" role=\"alert\">{}</p>",
            esc(problem)
        );
    }
    main.push_str(
        "<form method=\"post\" action=\"/dashboard/sign-in\">\
         <label for=\"api_key\">Secret API key</label>\
         <input id=\"api_key\" name=\"api_key\" type=\"password\" required \
          autocomplete=\"off\" spellcheck=\"false\" aria-describedby=\"api_key_help\">\
         <p id=\"api_key_help\" class=\"help\">Your <code>sk_test_…</code> key shows test \
          payments, your <code>sk_live_…</code> key live ones. The key is checked and not \
          kept; the session ends after 15 idle minutes.</p>\
         <button type=\"submit\">Sign in</button></form></section>",
    );
    super::html::page("Sign in", None, &main)
}

/// The overview of the last `period` days up to `today` (days since 1970): totals by
/// currency, authorization rate, declines by reason, daily volume, and the latest payments.
pub fn overview(
    header: &Header,
    period: i64,
    today: i64,
    summary: &Summary,
    latest: &[PaymentLine],
) -> String {
    let mut m = String::new();
    let _ = write!(
        m,
        "<h1>Overview</h1><nav class=\"periods\" aria-label=\"Period\">"
    );
    for p in PERIODS {
        let current = current_if(p == period);
        let _ = write!(
            m,
            "<a href=\"/dashboard?days={p}\"{current}>Last {p} days</a>"
        );
    }
    m.push_str("</nav>");

    let payments: i64 = summary.by_currency.iter().map(|c| c.payments).sum();
    let decided: i64 = summary.by_currency.iter().map(|c| c.decided).sum();
    let approved: i64 = summary.by_currency.iter().map(|c| c.approved).sum();
    let declined: i64 = summary.declines.iter().map(|(_, n)| n).sum();
    m.push_str("<section class=\"tiles\" aria-label=\"Totals\">");
    let _ = write!(
        m,
        "<div class=\"tile\"><h2>Payments</h2><p class=\"figure\">{payments}</p></div>\
         <div class=\"tile\"><h2>Authorization rate</h2><p class=\"figure\">{}</p>\
         <p class=\"note\">{approved} authorized of {decided} answered</p></div>",
        percent(approved, decided)
    );
    let captured: Vec<String> = summary
        .by_currency
        .iter()
        .filter(|c| c.captured > 0)
        .map(|c| money(c.captured, &c.currency))
        .collect();
    let _ = write!(
        m,
        "<div class=\"tile\"><h2>Captured</h2><p class=\"figure\">{}</p></div>",
        if captured.is_empty() {
            "—".to_owned()
        } else {
            captured.join("<br>")
        }
    );
    let refunds: i64 = summary.refunds.iter().map(|r| r.refunds).sum();
    let refunded: Vec<String> = summary
        .refunds
        .iter()
        .map(|r| money(r.amount, &r.currency))
        .collect();
    let _ = write!(
        m,
        "<div class=\"tile\"><h2>Refunded</h2><p class=\"figure\">{}</p>\
         <p class=\"note\">{refunds} refund{}</p></div></section>",
        if refunded.is_empty() {
            "—".to_owned()
        } else {
            refunded.join("<br>")
        },
        if refunds == 1 { "" } else { "s" }
    );

    m.push_str("<section><h2>Declines by reason</h2>");
    if summary.declines.is_empty() {
        m.push_str("<p>No declined payments in this period.</p>");
    } else {
        m.push_str(
            "<table><thead><tr><th scope=\"col\">Decline code</th>\
             <th scope=\"col\" class=\"num\">Payments</th>\
             <th scope=\"col\" class=\"num\">Share of declines</th></tr></thead><tbody>",
        );
        for (code, n) in &summary.declines {
            let _ = write!(
                m,
                "<tr><td><code>{}</code></td><td class=\"num\">{n}</td><td class=\"num\">{}</td></tr>",
                esc(code),
                percent(*n, declined)
            );
        }
        m.push_str(
            "</tbody></table>\
             <p><a href=\"/dashboard/payments?status=failed\">Declined payments</a></p>",
        );
    }
    m.push_str("</section>");

    m.push_str("<section><h2>Latest payments</h2>");
    m.push_str(&payment_table(latest));
    m.push_str("<p><a href=\"/dashboard/payments\">All payments</a></p></section>");

    m.push_str(&volume(period, today, summary));
    super::html::page("Overview", Some(header), &m)
}

/// Captured money a day, one table per currency, every day of the period shown (days
/// without payments too, so gaps are visible). Bars are `<meter>`s: no script, no inline
/// style, and read out by screen readers as values.
fn volume(period: i64, today: i64, summary: &Summary) -> String {
    let mut m = String::from("<section><h2>Volume by day</h2>");
    let mut by_currency: BTreeMap<&str, BTreeMap<i64, (i64, i64)>> = BTreeMap::new();
    for d in &summary.days {
        by_currency
            .entry(&d.currency)
            .or_default()
            .insert(d.day, (d.payments, d.captured));
    }
    if by_currency.is_empty() {
        m.push_str("<p>No payments in this period.</p></section>");
        return m;
    }
    for (currency, days) in by_currency {
        let max = days.values().map(|(_, c)| *c).max().unwrap_or(0).max(1);
        let code = esc(&currency.to_ascii_uppercase());
        let _ = write!(
            m,
            "<table class=\"volume\"><caption>{code}, captured by day (UTC)</caption>\
             <thead><tr><th scope=\"col\">Day</th><th scope=\"col\" class=\"num\">Payments</th>\
             <th scope=\"col\" class=\"num\">Captured</th><th scope=\"col\">\
             <span class=\"visually-hidden\">Share of the busiest day</span></th></tr></thead><tbody>"
        );
        for d in (today - period + 1..=today).rev() {
            let (n, captured) = days.get(&d).copied().unwrap_or((0, 0));
            let _ = write!(
                m,
                "<tr><th scope=\"row\">{}</th><td class=\"num\">{n}</td><td class=\"num\">{}</td>\
                 <td><meter min=\"0\" max=\"{max}\" value=\"{captured}\" aria-label=\"{} of the busiest day\"></meter></td></tr>",
                day(d),
                money(captured, currency),
                percent(captured, max)
            );
        }
        m.push_str("</tbody></table>");
    }
    m.push_str("</section>");
    m
}

/// A payment's status as a badge (its class names the status for the stylesheet).
fn status(status: &str) -> String {
    format!(
        "<span class=\"status {}\">{}</span>",
        esc(status),
        esc(&status.replace('_', " "))
    )
}

fn payment_table(lines: &[PaymentLine]) -> String {
    if lines.is_empty() {
        return "<p>No payments.</p>".to_owned();
    }
    let mut m = String::from(
        "<table><thead><tr><th scope=\"col\">Created</th><th scope=\"col\">Payment</th>\
         <th scope=\"col\" class=\"num\">Amount</th><th scope=\"col\">Status</th>\
         <th scope=\"col\">Card</th><th scope=\"col\">Decline code</th>\
         <th scope=\"col\" class=\"num\">Refunded</th></tr></thead><tbody>",
    );
    for p in lines {
        let _ = write!(
            m,
            "<tr><td>{}</td><td><a href=\"/dashboard/payments/{id}\"><code>{id}</code></a></td>\
             <td class=\"num\">{}</td><td>{}</td><td>{} •••• {}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            time(p.created_at),
            money(p.amount, &p.currency),
            status(&p.status),
            esc(&p.brand),
            esc(&p.last4),
            p.decline_code
                .as_deref()
                .map_or_else(String::new, |c| format!("<code>{}</code>", esc(c))),
            if p.amount_refunded > 0 {
                money(p.amount_refunded, &p.currency)
            } else {
                String::new()
            },
            id = esc(&p.id),
        );
    }
    m.push_str("</tbody></table>");
    m
}

/// The statuses the payment list filters by: every status a stored payment can have.
const LISTED: [Status; 7] = [
    Status::Processing,
    Status::Authorized,
    Status::Captured,
    Status::PartiallyRefunded,
    Status::Refunded,
    Status::Canceled,
    Status::Failed,
];

/// One page of the payment list, of one status or all; `newer` when it is not the first
/// page, `older` the id to continue after when there is more.
pub fn payments(
    header: &Header,
    lines: &[PaymentLine],
    status: Option<Status>,
    newer: bool,
    older: Option<&str>,
) -> String {
    let mut m = String::from("<h1>Payments</h1><nav class=\"periods\" aria-label=\"Status\">");
    let current = |s: Option<Status>| current_if(s == status);
    let _ = write!(
        m,
        "<a href=\"/dashboard/payments\"{}>All</a>",
        current(None)
    );
    for s in LISTED {
        let _ = write!(
            m,
            "<a href=\"/dashboard/payments?status={}\"{}>{}</a>",
            s.as_str(),
            current(Some(s)),
            s.as_str().replace('_', " ")
        );
    }
    m.push_str("</nav>");
    m.push_str(&payment_table(lines));
    // The filter's own query, carried into the paging links.
    let first = match status {
        Some(s) => format!("/dashboard/payments?status={}", s.as_str()),
        None => "/dashboard/payments".to_owned(),
    };
    m.push_str(&pager(&first, newer, older));
    super::html::page("Payments", Some(header), &m)
}

/// Links to the first page (`first`, which may hold a query) and, when there is more, to
/// the page after the id `older`.
fn pager(first: &str, newer: bool, older: Option<&str>) -> String {
    let mut m = String::from("<nav class=\"pages\" aria-label=\"Pages\">");
    if newer {
        let _ = write!(m, "<a href=\"{}\">Newest</a>", esc(first));
    }
    if let Some(id) = older {
        let joiner = if first.contains('?') { '&' } else { '?' };
        let _ = write!(
            m,
            "<a href=\"{}\">Older</a>",
            esc(&format!("{first}{joiner}starting_after={id}"))
        );
    }
    m.push_str("</nav>");
    m
}

/// One page of the refunds of the merchant's payments, newest first.
pub fn refunds(header: &Header, lines: &[RefundLine], newer: bool, older: Option<&str>) -> String {
    let mut m = String::from("<h1>Refunds</h1>");
    if lines.is_empty() {
        m.push_str("<p>No refunds.</p>");
    } else {
        m.push_str(
            "<table><thead><tr><th scope=\"col\">Created</th><th scope=\"col\">Refund</th>\
             <th scope=\"col\">Payment</th><th scope=\"col\" class=\"num\">Amount</th>\
             <th scope=\"col\">Status</th></tr></thead><tbody>",
        );
        for r in lines {
            let _ = write!(
                m,
                "<tr><td>{}</td><td><code>{}</code></td>\
                 <td><a href=\"/dashboard/payments/{payment}\"><code>{payment}</code></a></td>\
                 <td class=\"num\">{}</td><td>{}</td></tr>",
                time(r.created_at),
                esc(&r.id),
                money(r.amount, &r.currency),
                esc(&r.status),
                payment = esc(&r.payment_id),
            );
        }
        m.push_str("</tbody></table>");
    }
    m.push_str(&pager("/dashboard/refunds", newer, older));
    super::html::page("Refunds", Some(header), &m)
}

/// A payment, its history (every transition with time and actor) and its refunds.
pub fn payment(header: &Header, record: &PaymentRecord, refunds: &[RefundRow]) -> String {
    let p = &record.payment;
    let currency = p.currency().code();
    let mut m = String::new();
    let _ = write!(
        m,
        "<h1>Payment <code>{}</code></h1><dl class=\"facts\">",
        esc(&record.id)
    );
    let mut fact = |name: &str, value: String| {
        let _ = write!(m, "<div><dt>{name}</dt><dd>{value}</dd></div>");
    };
    fact("Status", status(p.status().as_str()));
    fact("Amount", money(p.amount().minor_units(), &currency));
    fact("Captured", money(p.amount_captured(), &currency));
    fact("Refunded", money(p.amount_refunded(), &currency));
    fact("Capture", esc(p.capture_method().as_str()));
    fact(
        "Card",
        format!(
            "{} •••• {}, expires {:02}/{}",
            esc(&record.brand),
            esc(&record.last4),
            record.exp_month,
            record.exp_year
        ),
    );
    if let Some(code) = p.decline_code() {
        fact(
            "Decline code",
            format!("<code>{}</code>", esc(code.as_str())),
        );
    }
    if let Some(reference) = p.processor_reference() {
        fact(
            "Processor reference",
            format!("<code>{}</code>", esc(reference)),
        );
    }
    if let Some(reference) = &record.reference {
        fact("Reference", esc(reference));
    }
    if let Some(session) = &record.session_id {
        fact("Session", format!("<code>{}</code>", esc(session)));
    }
    if let Some(customer) = &record.customer_id {
        fact("Customer", format!("<code>{}</code>", esc(customer)));
    }
    fact("Created", time(p.created()));
    m.push_str(
        "</dl><section><h2>History</h2><table><thead><tr><th scope=\"col\">When</th>\
         <th scope=\"col\">Change</th><th scope=\"col\">Operation</th>\
         <th scope=\"col\" class=\"num\">Amount</th><th scope=\"col\">By</th></tr></thead><tbody>",
    );
    for t in p.transitions() {
        let _ = write!(
            m,
            "<tr><td>{}</td><td>{} → {}</td><td>{}</td><td class=\"num\">{}</td><td><code>{}</code></td></tr>",
            time(t.at),
            esc(t.from.as_str()),
            esc(t.to.as_str()),
            esc(t.operation.as_str()),
            t.amount
                .map_or_else(String::new, |a| money(a.minor_units(), &currency)),
            esc(&t.actor.to_string())
        );
    }
    m.push_str("</tbody></table></section><section><h2>Refunds</h2>");
    if refunds.is_empty() {
        m.push_str("<p>No refunds.</p>");
    } else {
        m.push_str(
            "<table><thead><tr><th scope=\"col\">When</th><th scope=\"col\">Refund</th>\
             <th scope=\"col\" class=\"num\">Amount</th><th scope=\"col\">Status</th></tr></thead><tbody>",
        );
        for r in refunds {
            let _ = write!(
                m,
                "<tr><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td><td>{}</td></tr>",
                time(r.created_at),
                esc(&r.id),
                money(r.amount, &currency),
                esc(&r.status)
            );
        }
        m.push_str("</tbody></table>");
    }
    m.push_str("</section>");
    super::html::page("Payment", Some(header), &m)
}

/// A page saying what went wrong: `title`, then `text`.
pub fn problem(header: Option<&Header>, title: &str, text: &str) -> String {
    let main = format!(
        "<h1>{}</h1><p>{}</p><p><a href=\"/dashboard\">Back to the overview</a></p>",
        esc(title),
        esc(text)
    );
    super::html::page(title, header, &main)
}
