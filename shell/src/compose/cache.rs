//! The template cache: each section's [`Template`] (and the 404 page's), rendered once and
//! rendered again when the registry's generation moves on (a manifest changed its
//! stylesheets, controllers or fragments).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::template::Template;
use crate::settings::SectionConfig;

/// Templates by section id, and the 404 page's.
#[derive(Debug, Default)]
pub struct PageCache {
    sections: RwLock<HashMap<String, Arc<Template>>>,
    not_found: RwLock<Option<Arc<Template>>>,
}

impl PageCache {
    /// The template of `section` (the 404 page for `None`) at `generation`, made with
    /// `render` when there is none yet or it is of an older generation.
    pub fn get(
        &self,
        section: Option<&SectionConfig>,
        generation: u64,
        render: impl FnOnce() -> Template,
    ) -> Arc<Template> {
        let current = |t: &&Arc<Template>| t.generation == generation;
        let cached = match section {
            Some(s) => self
                .sections
                .read()
                .ok()
                .and_then(|m| m.get(&s.id).filter(current).cloned()),
            None => self
                .not_found
                .read()
                .ok()
                .and_then(|t| t.as_ref().filter(current).cloned()),
        };
        if let Some(template) = cached {
            return template;
        }
        let template = Arc::new(render());
        match section {
            Some(s) => {
                if let Ok(mut m) = self.sections.write() {
                    m.insert(s.id.clone(), Arc::clone(&template));
                }
            }
            None => {
                if let Ok(mut t) = self.not_found.write() {
                    *t = Some(Arc::clone(&template));
                }
            }
        }
        template
    }
}
