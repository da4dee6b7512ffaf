//! Webhooks (admin): `/v1/webhooks`.

use hush_wire::request::DeliveriesQuery;
use hush_wire::{NewWebhook, Webhook, WebhookDelivery, WebhookRequest};
use reqwest::Method;

use crate::{check_segment, page_query, Client, Error};

impl Client {
    /// Registers a webhook (admin). The answer is the only place its signing secret appears.
    pub async fn create_webhook(&self, req: &WebhookRequest) -> Result<NewWebhook, Error> {
        self.send(self.req(Method::POST, "/v1/webhooks").json(req))
            .await
    }

    /// Lists the workspace's webhooks (admin), following pages.
    pub async fn webhooks(&self) -> Result<Vec<Webhook>, Error> {
        self.all_pages("/v1/webhooks", page_query).await
    }

    /// Removes a webhook and its deliveries (admin).
    pub async fn delete_webhook(&self, id: &str) -> Result<(), Error> {
        check_segment(id)?;
        self.send::<serde_json::Value>(self.req(Method::DELETE, &format!("/v1/webhooks/{id}")))
            .await
            .map(|_| ())
    }

    /// The newest deliveries (of one webhook, with `webhook`), at most `limit` (admin).
    pub async fn webhook_deliveries(
        &self,
        webhook: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<WebhookDelivery>, Error> {
        let q = DeliveriesQuery {
            webhook: webhook.map(str::to_string),
            limit,
        };
        self.send(self.req(Method::GET, "/v1/webhooks/deliveries").query(&q))
            .await
    }
}
