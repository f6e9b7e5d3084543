/// A plan a user may pick: its id in the pricing catalogue and a label to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The catalogue id (`pro`).
    pub id: String,
    /// What the form shows (`Pro`).
    pub label: String,
}

/// The plans a user may pick, in order; the first is the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanList(Vec<Plan>);

impl PlanList {
    /// Parses `free,pro,team`: ids of 1 to 40 of `a-z`, `0-9`, `-`, listed once each.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut plans: Vec<Plan> = Vec::new();
        for id in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let ok = id.len() <= 40
                && id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                return Err(format!(
                    "plan id `{}` must be 1 to 40 of a-z, 0-9 and `-`",
                    id.escape_default()
                ));
            }
            if plans.iter().any(|p| p.id == id) {
                return Err(format!("plan id `{id}` is listed twice"));
            }
            plans.push(Plan {
                id: id.to_owned(),
                label: label_of(id),
            });
        }
        if plans.is_empty() {
            return Err("list at least one plan id".to_owned());
        }
        Ok(Self(plans))
    }

    /// All plans, in order.
    pub fn all(&self) -> &[Plan] {
        &self.0
    }

    /// The default plan (the first).
    pub fn default_id(&self) -> &str {
        &self.0[0].id
    }

    /// The plan with this id, if it is offered: how a submitted plan is checked.
    pub fn get(&self, id: &str) -> Option<&Plan> {
        self.0.iter().find(|p| p.id == id)
    }

    /// Checks a submitted plan id; the error is the inline message.
    pub fn parse_choice(&self, id: &str) -> Result<&Plan, &'static str> {
        self.get(id.trim()).ok_or("Pick one of the plans offered.")
    }
}

fn label_of(id: &str) -> String {
    id.split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_lists_parse_and_label_ids() {
        let plans = PlanList::parse("free, pro,team-plus").unwrap();
        assert_eq!(plans.default_id(), "free");
        assert_eq!(plans.get("team-plus").unwrap().label, "Team Plus");
        assert!(plans.parse_choice("enterprise").is_err());
        assert!(PlanList::parse("").is_err());
        assert!(PlanList::parse("Pro").is_err());
        assert!(PlanList::parse("pro,pro").is_err());
    }
}
