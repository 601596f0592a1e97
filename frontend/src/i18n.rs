//! Every text the frame shows, in each language it speaks: English, Brazilian Portuguese
//! and Simplified Chinese. One `match` on `(Locale, Key)`, so a missing translation is a
//! compile error rather than an empty label. Core's `CardError` has English `Display`
//! for logs and the API; the frame maps errors to keys here instead.

use crate::fields::FieldError;
use payframe_core::CardError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    En,
    PtBr,
    ZhCn,
}

impl Locale {
    pub const ALL: [Locale; 3] = [Locale::En, Locale::PtBr, Locale::ZhCn];

    /// The locale a BCP 47 tag asks for, if the frame speaks it. Any Portuguese gets
    /// pt-BR (the only Portuguese here); Traditional Chinese is not Simplified Chinese.
    pub fn parse(tag: &str) -> Option<Locale> {
        let tag = tag.trim().to_ascii_lowercase().replace('_', "-");
        match tag.split('-').next()? {
            "en" => Some(Locale::En),
            "pt" => Some(Locale::PtBr),
            "zh" => {
                let traditional = tag
                    .split('-')
                    .any(|p| matches!(p, "hant" | "tw" | "hk" | "mo"));
                (!traditional).then_some(Locale::ZhCn)
            }
            _ => None,
        }
    }

    /// The merchant's `locale` option if the frame speaks it (`"auto"` defers), else the
    /// first of the browser's languages it speaks, else English.
    pub fn choose<'a>(option: Option<&str>, browser: impl IntoIterator<Item = &'a str>) -> Locale {
        option
            .and_then(Locale::parse)
            .or_else(|| browser.into_iter().find_map(Locale::parse))
            .unwrap_or(Locale::En)
    }

    /// The tag for `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::PtBr => "pt-BR",
            Locale::ZhCn => "zh-CN",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    NumberLabel,
    ExpiryLabel,
    CvcLabel,
    NameLabel,
    PostalLabel,
    NumberPlaceholder,
    ExpiryPlaceholder,
    CvcPlaceholder,
    NamePlaceholder,
    PostalPlaceholder,
    IncompleteNumber,
    InvalidNumber,
    InvalidExpiry,
    ExpiredCard,
    InvalidCvc,
    MissingName,
    MissingPostal,
    InvalidPostal,
    Loading,
    Refused,
    NotOpen,
    LoadFailed,
    /// Contains `{last4}`.
    Done,
    FrameTitle,
    NotReady,
    SealFailed,
    NetworkError,
    Declined,
    InsufficientFunds,
    IncorrectCvc,
    TryAgain,
    PaymentFailed,
}

impl Key {
    pub const ALL: [Key; 32] = [
        Key::NumberLabel,
        Key::ExpiryLabel,
        Key::CvcLabel,
        Key::NameLabel,
        Key::PostalLabel,
        Key::NumberPlaceholder,
        Key::ExpiryPlaceholder,
        Key::CvcPlaceholder,
        Key::NamePlaceholder,
        Key::PostalPlaceholder,
        Key::IncompleteNumber,
        Key::InvalidNumber,
        Key::InvalidExpiry,
        Key::ExpiredCard,
        Key::InvalidCvc,
        Key::MissingName,
        Key::MissingPostal,
        Key::InvalidPostal,
        Key::Loading,
        Key::Refused,
        Key::NotOpen,
        Key::LoadFailed,
        Key::Done,
        Key::FrameTitle,
        Key::NotReady,
        Key::SealFailed,
        Key::NetworkError,
        Key::Declined,
        Key::InsufficientFunds,
        Key::IncorrectCvc,
        Key::TryAgain,
        Key::PaymentFailed,
    ];
}

pub fn t(locale: Locale, key: Key) -> &'static str {
    use Key::*;
    use Locale::*;
    match (locale, key) {
        (En, NumberLabel) => "Card number",
        (En, ExpiryLabel) => "Expiry date",
        (En, CvcLabel) => "Security code",
        (En, NameLabel) => "Name on card",
        (En, PostalLabel) => "Postal code",
        (En, NumberPlaceholder) => "1234 1234 1234 1234",
        (En, ExpiryPlaceholder) => "MM / YY",
        (En, CvcPlaceholder) => "CVC",
        (En, NamePlaceholder) => "Full name",
        (En, PostalPlaceholder) => "12345",
        (En, IncompleteNumber) => "The card number is incomplete.",
        (En, InvalidNumber) => "The card number is invalid.",
        (En, InvalidExpiry) => "The expiry date is invalid.",
        (En, ExpiredCard) => "The card has expired.",
        (En, InvalidCvc) => "The security code is invalid.",
        (En, MissingName) => "Enter the name on the card.",
        (En, MissingPostal) => "Enter the postal code.",
        (En, InvalidPostal) => "The postal code is invalid.",
        (En, Loading) => "Loading…",
        (En, Refused) => "This payment form cannot be shown here.",
        (En, NotOpen) => "This checkout is no longer open.",
        (En, LoadFailed) => "The payment form could not be loaded.",
        (En, Done) => "Card ending in {last4} accepted.",
        (En, FrameTitle) => "Secure card payment form",
        (En, NotReady) => "The form is still loading.",
        (En, SealFailed) => "The card could not be encrypted.",
        (En, NetworkError) => "The payment service could not be reached.",
        (En, Declined) => "The card was declined.",
        (En, InsufficientFunds) => "The card has insufficient funds.",
        (En, IncorrectCvc) => "The security code is incorrect.",
        (En, TryAgain) => "The payment could not be processed. Please try again.",
        (En, PaymentFailed) => "The payment could not be completed.",

        (PtBr, NumberLabel) => "Número do cartão",
        (PtBr, ExpiryLabel) => "Validade",
        (PtBr, CvcLabel) => "Código de segurança",
        (PtBr, NameLabel) => "Nome impresso no cartão",
        (PtBr, PostalLabel) => "CEP",
        (PtBr, NumberPlaceholder) => "1234 1234 1234 1234",
        (PtBr, ExpiryPlaceholder) => "MM / AA",
        (PtBr, CvcPlaceholder) => "CVV",
        (PtBr, NamePlaceholder) => "Nome completo",
        (PtBr, PostalPlaceholder) => "00000-000",
        (PtBr, IncompleteNumber) => "O número do cartão está incompleto.",
        (PtBr, InvalidNumber) => "O número do cartão é inválido.",
        (PtBr, InvalidExpiry) => "A data de validade é inválida.",
        (PtBr, ExpiredCard) => "O cartão está vencido.",
        (PtBr, InvalidCvc) => "O código de segurança é inválido.",
        (PtBr, MissingName) => "Informe o nome impresso no cartão.",
        (PtBr, MissingPostal) => "Informe o CEP.",
        (PtBr, InvalidPostal) => "O CEP é inválido.",
        (PtBr, Loading) => "Carregando…",
        (PtBr, Refused) => "Este formulário de pagamento não pode ser exibido aqui.",
        (PtBr, NotOpen) => "Este pagamento não está mais disponível.",
        (PtBr, LoadFailed) => "Não foi possível carregar o formulário de pagamento.",
        (PtBr, Done) => "Cartão com final {last4} aceito.",
        (PtBr, FrameTitle) => "Formulário seguro de pagamento com cartão",
        (PtBr, NotReady) => "O formulário ainda está carregando.",
        (PtBr, SealFailed) => "Não foi possível criptografar os dados do cartão.",
        (PtBr, NetworkError) => "Não foi possível conectar ao serviço de pagamento.",
        (PtBr, Declined) => "O cartão foi recusado.",
        (PtBr, InsufficientFunds) => "O cartão não tem saldo ou limite suficiente.",
        (PtBr, IncorrectCvc) => "O código de segurança está incorreto.",
        (PtBr, TryAgain) => "Não foi possível processar o pagamento. Tente novamente.",
        (PtBr, PaymentFailed) => "Não foi possível concluir o pagamento.",

        (ZhCn, NumberLabel) => "卡号",
        (ZhCn, ExpiryLabel) => "有效期",
        (ZhCn, CvcLabel) => "安全码",
        (ZhCn, NameLabel) => "持卡人姓名",
        (ZhCn, PostalLabel) => "邮政编码",
        (ZhCn, NumberPlaceholder) => "1234 1234 1234 1234",
        (ZhCn, ExpiryPlaceholder) => "月 / 年",
        (ZhCn, CvcPlaceholder) => "CVC",
        (ZhCn, NamePlaceholder) => "姓名",
        (ZhCn, PostalPlaceholder) => "100000",
        (ZhCn, IncompleteNumber) => "卡号不完整。",
        (ZhCn, InvalidNumber) => "卡号无效。",
        (ZhCn, InvalidExpiry) => "有效期无效。",
        (ZhCn, ExpiredCard) => "该卡已过期。",
        (ZhCn, InvalidCvc) => "安全码无效。",
        (ZhCn, MissingName) => "请输入持卡人姓名。",
        (ZhCn, MissingPostal) => "请输入邮政编码。",
        (ZhCn, InvalidPostal) => "邮政编码无效。",
        (ZhCn, Loading) => "正在加载…",
        (ZhCn, Refused) => "此处无法显示该支付表单。",
        (ZhCn, NotOpen) => "本次支付已关闭。",
        (ZhCn, LoadFailed) => "支付表单加载失败。",
        (ZhCn, Done) => "尾号为 {last4} 的银行卡已受理。",
        (ZhCn, FrameTitle) => "安全的银行卡支付表单",
        (ZhCn, NotReady) => "表单仍在加载中。",
        (ZhCn, SealFailed) => "无法加密银行卡信息。",
        (ZhCn, NetworkError) => "无法连接支付服务。",
        (ZhCn, Declined) => "银行卡被拒绝。",
        (ZhCn, InsufficientFunds) => "银行卡余额不足。",
        (ZhCn, IncorrectCvc) => "安全码不正确。",
        (ZhCn, TryAgain) => "支付处理失败，请重试。",
        (ZhCn, PaymentFailed) => "支付未能完成。",
    }
}

/// The key for a field's validation error.
pub fn field_error(error: FieldError) -> Key {
    match error {
        FieldError::Card(CardError::IncompleteNumber) => Key::IncompleteNumber,
        FieldError::Card(CardError::InvalidNumber) => Key::InvalidNumber,
        FieldError::Card(CardError::InvalidExpiry) => Key::InvalidExpiry,
        FieldError::Card(CardError::ExpiredCard) => Key::ExpiredCard,
        FieldError::Card(CardError::InvalidCvc) => Key::InvalidCvc,
        FieldError::MissingName => Key::MissingName,
        FieldError::MissingPostal => Key::MissingPostal,
        FieldError::InvalidPostal => Key::InvalidPostal,
    }
}

/// The key for an error code the gateway (or the frame itself) answered with, when the
/// frame knows one; the gateway's `decline_code` is more precise than its `code`.
pub fn call_error(code: &str, decline_code: Option<&str>) -> Option<Key> {
    Some(match decline_code.unwrap_or(code) {
        "network_error" => Key::NetworkError,
        "not_ready" => Key::NotReady,
        "seal_failed" => Key::SealFailed,
        "do_not_honor" | "card_declined" => Key::Declined,
        "insufficient_funds" => Key::InsufficientFunds,
        "expired_card" => Key::ExpiredCard,
        "incorrect_cvc" => Key::IncorrectCvc,
        "invalid_number" => Key::InvalidNumber,
        "invalid_cvc" => Key::InvalidCvc,
        "invalid_expiry" => Key::InvalidExpiry,
        "incomplete_number" => Key::IncompleteNumber,
        "issuer_unavailable" | "processing_error" => Key::TryAgain,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn every_key_has_text_in_every_language() {
        for locale in Locale::ALL {
            for key in Key::ALL {
                assert!(!t(locale, key).trim().is_empty(), "{locale:?} {key:?}");
            }
            assert!(t(locale, Key::Done).contains("{last4}"), "{locale:?}");
        }
    }

    #[test]
    fn translations_differ_from_english_where_words_are_shown() {
        for locale in [Locale::PtBr, Locale::ZhCn] {
            for key in [Key::NumberLabel, Key::Refused, Key::InvalidNumber] {
                assert_ne!(t(locale, key), t(Locale::En, key), "{locale:?} {key:?}");
            }
        }
    }

    #[test]
    fn chooses_the_option_then_the_browser_then_english() {
        assert_eq!(Locale::choose(Some("pt-BR"), ["zh-CN"]), Locale::PtBr);
        assert_eq!(
            Locale::choose(Some("auto"), ["fr-FR", "zh-CN"]),
            Locale::ZhCn
        );
        assert_eq!(Locale::choose(None, ["pt"]), Locale::PtBr);
        assert_eq!(Locale::choose(None, ["zh_Hans_CN"]), Locale::ZhCn);
        assert_eq!(Locale::choose(None, ["zh-TW"]), Locale::En);
        assert_eq!(Locale::choose(Some("de"), ["ja"]), Locale::En);
        assert_eq!(Locale::choose(None, []), Locale::En);
        assert_eq!(Locale::parse("EN-gb"), Some(Locale::En));
    }

    #[test]
    fn maps_decline_codes_before_generic_codes() {
        assert_eq!(
            call_error("card_declined", Some("insufficient_funds")),
            Some(Key::InsufficientFunds)
        );
        assert_eq!(call_error("network_error", None), Some(Key::NetworkError));
        assert_eq!(call_error("something_new", None), None);
    }
}
