/**
 * Picks the service layers for a run from the validated settings: BigQuery and Cloud Storage in
 * live mode, the sample table definitions and a local directory in local mode.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { DEFAULT_METADATA_REGION_ABOVE, loadSyncSettings, SyncConfig, type SyncSettings } from "../config/SyncConfig.ts"
import type { BigQueryService } from "../services/BigQuery/BigQueryService.ts"
import { LiveBigQuery } from "../services/BigQuery/LiveBigQuery.ts"
import { LocalBigQuery } from "../services/BigQuery/LocalBigQuery.ts"
import { WebhookAlerts } from "../services/Alerting/WebhookAlerts.ts"
import { VertexEmbeddings } from "../services/Embeddings/VertexEmbeddings.ts"
import { AnthropicExampleGenerator } from "../services/ExampleGenerator/AnthropicExampleGenerator.ts"
import { GcsStorage } from "../services/Storage/GcsStorage.ts"
import { LocalStorage } from "../services/Storage/LocalStorage.ts"
import type { StorageService } from "../services/Storage/StorageService.ts"

export const serviceLayers = (settings: SyncSettings): Layer.Layer<BigQueryService | StorageService> =>
  settings.mode === "live"
    ? Layer.merge(
      LiveBigQuery.layer({
        projectId: settings.project ?? "",
        timeout: settings.remoteTimeout,
        maximumBytesBilled: settings.metadataMaxBytesBilled,
        metadataRead: {
          mode: settings.metadataRead ?? "auto",
          regionAbove: settings.metadataRegionAbove ?? DEFAULT_METADATA_REGION_ABOVE,
          location: settings.metadataLocation ?? undefined
        }
      }),
      GcsStorage.layer({ bucket: settings.bucket ?? "", timeout: settings.remoteTimeout })
    )
    : Layer.merge(LocalBigQuery.layer(settings.localTablesDir), LocalStorage.layer(settings.localBucketDir))

/** Settings read from the environment, and the services they select (alerting, LLM examples and embeddings included). */
export const SyncLayer = Layer.unwrapEffect(
  Effect.map(loadSyncSettings, (settings) =>
    Layer.mergeAll(
      Layer.succeed(SyncConfig, settings),
      serviceLayers(settings),
      WebhookAlerts.layerFromConfig,
      AnthropicExampleGenerator.layerFromConfig,
      VertexEmbeddings.layerFromConfig(settings.remoteTimeout)
    ))
)
