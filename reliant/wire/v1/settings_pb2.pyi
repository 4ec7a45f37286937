from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListModelChoicesRequest(_message.Message):
    __slots__ = ("refresh",)
    REFRESH_FIELD_NUMBER: _ClassVar[int]
    refresh: bool
    def __init__(self, refresh: _Optional[bool] = ...) -> None: ...

class ModelChoice(_message.Message):
    __slots__ = ("model", "source", "label")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    model: str
    source: str
    label: str
    def __init__(self, model: _Optional[str] = ..., source: _Optional[str] = ..., label: _Optional[str] = ...) -> None: ...

class ProviderModels(_message.Message):
    __slots__ = ("provider", "configured", "error", "fetched_unix")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    CONFIGURED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FETCHED_UNIX_FIELD_NUMBER: _ClassVar[int]
    provider: str
    configured: bool
    error: str
    fetched_unix: float
    def __init__(self, provider: _Optional[str] = ..., configured: _Optional[bool] = ..., error: _Optional[str] = ..., fetched_unix: _Optional[float] = ...) -> None: ...

class ModelChoices(_message.Message):
    __slots__ = ("choices", "providers", "default_model")
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_MODEL_FIELD_NUMBER: _ClassVar[int]
    choices: _containers.RepeatedCompositeFieldContainer[ModelChoice]
    providers: _containers.RepeatedCompositeFieldContainer[ProviderModels]
    default_model: str
    def __init__(self, choices: _Optional[_Iterable[_Union[ModelChoice, _Mapping]]] = ..., providers: _Optional[_Iterable[_Union[ProviderModels, _Mapping]]] = ..., default_model: _Optional[str] = ...) -> None: ...

class GetSettingsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ProviderSettings(_message.Message):
    __slots__ = ("name", "configured", "api_key_masked", "base_url", "source")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONFIGURED_FIELD_NUMBER: _ClassVar[int]
    API_KEY_MASKED_FIELD_NUMBER: _ClassVar[int]
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    configured: bool
    api_key_masked: str
    base_url: str
    source: str
    def __init__(self, name: _Optional[str] = ..., configured: _Optional[bool] = ..., api_key_masked: _Optional[str] = ..., base_url: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class Settings(_message.Message):
    __slots__ = ("providers", "default_model", "models", "budget_chat_usd", "budget_project_day_usd", "budget_source", "model_prices")
    PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_MODEL_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    BUDGET_CHAT_USD_FIELD_NUMBER: _ClassVar[int]
    BUDGET_PROJECT_DAY_USD_FIELD_NUMBER: _ClassVar[int]
    BUDGET_SOURCE_FIELD_NUMBER: _ClassVar[int]
    MODEL_PRICES_FIELD_NUMBER: _ClassVar[int]
    providers: _containers.RepeatedCompositeFieldContainer[ProviderSettings]
    default_model: str
    models: _containers.RepeatedScalarFieldContainer[str]
    budget_chat_usd: float
    budget_project_day_usd: float
    budget_source: str
    model_prices: _containers.RepeatedCompositeFieldContainer[ModelPrice]
    def __init__(self, providers: _Optional[_Iterable[_Union[ProviderSettings, _Mapping]]] = ..., default_model: _Optional[str] = ..., models: _Optional[_Iterable[str]] = ..., budget_chat_usd: _Optional[float] = ..., budget_project_day_usd: _Optional[float] = ..., budget_source: _Optional[str] = ..., model_prices: _Optional[_Iterable[_Union[ModelPrice, _Mapping]]] = ...) -> None: ...

class ModelPrice(_message.Message):
    __slots__ = ("model", "input", "output", "cache_read", "cache_write")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    CACHE_READ_FIELD_NUMBER: _ClassVar[int]
    CACHE_WRITE_FIELD_NUMBER: _ClassVar[int]
    model: str
    input: float
    output: float
    cache_read: float
    cache_write: float
    def __init__(self, model: _Optional[str] = ..., input: _Optional[float] = ..., output: _Optional[float] = ..., cache_read: _Optional[float] = ..., cache_write: _Optional[float] = ...) -> None: ...

class ModelPrices(_message.Message):
    __slots__ = ("prices",)
    PRICES_FIELD_NUMBER: _ClassVar[int]
    prices: _containers.RepeatedCompositeFieldContainer[ModelPrice]
    def __init__(self, prices: _Optional[_Iterable[_Union[ModelPrice, _Mapping]]] = ...) -> None: ...

class UpdateSettingsRequest(_message.Message):
    __slots__ = ("anthropic_api_key", "anthropic_base_url", "openai_api_key", "openai_base_url", "default_model", "budget_chat_usd", "budget_project_day_usd", "model_prices")
    ANTHROPIC_API_KEY_FIELD_NUMBER: _ClassVar[int]
    ANTHROPIC_BASE_URL_FIELD_NUMBER: _ClassVar[int]
    OPENAI_API_KEY_FIELD_NUMBER: _ClassVar[int]
    OPENAI_BASE_URL_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_MODEL_FIELD_NUMBER: _ClassVar[int]
    BUDGET_CHAT_USD_FIELD_NUMBER: _ClassVar[int]
    BUDGET_PROJECT_DAY_USD_FIELD_NUMBER: _ClassVar[int]
    MODEL_PRICES_FIELD_NUMBER: _ClassVar[int]
    anthropic_api_key: str
    anthropic_base_url: str
    openai_api_key: str
    openai_base_url: str
    default_model: str
    budget_chat_usd: float
    budget_project_day_usd: float
    model_prices: ModelPrices
    def __init__(self, anthropic_api_key: _Optional[str] = ..., anthropic_base_url: _Optional[str] = ..., openai_api_key: _Optional[str] = ..., openai_base_url: _Optional[str] = ..., default_model: _Optional[str] = ..., budget_chat_usd: _Optional[float] = ..., budget_project_day_usd: _Optional[float] = ..., model_prices: _Optional[_Union[ModelPrices, _Mapping]] = ...) -> None: ...
